/**
 * A caller as the voice fault tests see it: stamped audio (so the fake Deepgram knows which words
 * each of its sockets heard, and a word heard twice or never shows), spoken at once or at a
 * microphone's pace, and everything the page was sent, kept, to count notices over a whole fault.
 */
import { AudioFrameKind, encodeAudioFrame } from "../../../protocol/audio-frame.ts";
import type { ServerMessage, ServerMessageOf } from "../../../protocol/messages.ts";
import { FRAME_MS, stampedFrame } from "../../fakes/deepgram/client.ts";
import type { SessionSocket } from "../../workers/support/session-socket.ts";

const framesSent = new WeakMap<SessionSocket, number>();

/** `ms` of caller audio at once, going on from where this caller stopped. */
export function speakStamped(socket: SessionSocket, ms: number) {
  let index = framesSent.get(socket) ?? 0;
  for (let i = 0; i < ms / FRAME_MS; i++, index++)
    socket.ws.send(
      encodeAudioFrame(AudioFrameKind.CallerPcm16k, index & 0xffff, stampedFrame(index)),
    );
  framesSent.set(socket, index);
}

/** `ms` of caller audio at a microphone's pace (100 ms every 100 ms), as during an outage. */
export async function speakLive(socket: SessionSocket, ms: number) {
  for (let done = 0; done < ms; done += 100) {
    speakStamped(socket, 100);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Everything the server sent the page, in order (the socket's log), to count over a whole fault. */
export class PageLog {
  readonly #socket: SessionSocket;

  constructor(socket: SessionSocket) {
    this.#socket = socket;
  }

  get messages(): readonly ServerMessage[] {
    return this.#socket.log;
  }

  /** Reads on until a message of `type` that passes `test` arrives; returns it. */
  until<T extends ServerMessage["type"]>(
    type: T,
    test: (message: ServerMessageOf<T>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<ServerMessageOf<T>> {
    return this.#socket.until(type, test, timeoutMs);
  }

  notices(code: ServerMessageOf<"notice">["code"]): ServerMessageOf<"notice">[] {
    return this.messages.flatMap((m) => (m.type === "notice" && m.code === code ? [m] : []));
  }

  errors(): ServerMessageOf<"error">[] {
    return this.messages.flatMap((m) => (m.type === "error" ? [m] : []));
  }

  /** What the caller said, as the page's transcript shows it. */
  said(): string[] {
    return this.messages.flatMap((m) =>
      m.type === "transcript" && m.entry.role === "user" ? [m.entry.text] : [],
    );
  }
}
