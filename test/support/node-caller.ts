/**
 * A caller's page as tests and benchmarks in Node see it: the session WebSocket of an app
 * started with `startAppProcess`, server messages parsed with the real protocol schema and read
 * in order, audio frames kept by kind with their arrival times, and caller audio sent as the
 * page sends it (20 ms frames of 16 kHz PCM16).
 */
import {
  type AudioFrameKind,
  decodeAudioFrame,
  encodeAudioFrame,
  AudioFrameKind as Kind,
} from "../../protocol/audio-frame.ts";
import { ServerMessages } from "./server-messages.ts";

export interface ReceivedAudio {
  kind: AudioFrameKind;
  /** AudioFrameFlag bits, e.g. ReplyStart on a reply's first frame. */
  flags: number;
  pcm: Uint8Array;
  at: number;
}

export class NodeCaller extends ServerMessages {
  readonly ws: WebSocket;
  readonly audio: ReceivedAudio[] = [];
  #seq = 0;

  private constructor(ws: WebSocket) {
    super(ws, (data) => {
      const frame = decodeAudioFrame(data);
      if (frame.ok) {
        const { kind, flags, pcm } = frame.frame;
        this.audio.push({ kind, flags, pcm, at: performance.now() });
      }
    });
    this.ws = ws;
  }

  static async open(appUrl: string, session?: string): Promise<NodeCaller> {
    const url = new URL("ws", appUrl.replace(/^http/, "ws"));
    if (session) url.searchParams.set("session", session);
    const ws = new WebSocket(url.toString());
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("error", () => reject(new Error(`could not open ${url}`)), {
        once: true,
      });
    });
    const caller = new NodeCaller(ws);
    await caller.next("hello");
    return caller;
  }

  /** Signs in with a PIN on a new session. */
  static async signIn(appUrl: string, pin: string) {
    const caller = await NodeCaller.open(appUrl);
    caller.send({ type: "sign_in", pin });
    const signedIn = await caller.until("signed_in");
    return { caller, signedIn };
  }

  /** Resumes a session on a new connection. */
  static async resume(appUrl: string, sessionId: string, token: string) {
    const caller = await NodeCaller.open(appUrl, sessionId);
    caller.send({ type: "resume", token });
    const signedIn = await caller.until("signed_in");
    return { caller, signedIn };
  }

  send(message: unknown) {
    this.ws.send(JSON.stringify(message));
  }

  say(text: string) {
    this.send({ type: "user_text", id: `m${crypto.randomUUID().slice(0, 8)}`, text });
  }

  /** One frame of caller audio (16 kHz PCM16LE). */
  sendPcm(pcm: Uint8Array) {
    this.#seq = (this.#seq + 1) & 0xffff;
    this.ws.send(encodeAudioFrame(Kind.CallerPcm16k, this.#seq, pcm));
  }

  /** Human-agent audio received so far, as one PCM16LE buffer. */
  humanAudio(): Uint8Array {
    const frames = this.audio.filter((a) => a.kind === Kind.HumanPcm16k);
    const out = new Uint8Array(frames.reduce((n, f) => n + f.pcm.byteLength, 0));
    let at = 0;
    for (const frame of frames) {
      out.set(frame.pcm, at);
      at += frame.pcm.byteLength;
    }
    return out;
  }

  close() {
    if (!this.closed) this.ws.close(1000, "test done");
  }
}
