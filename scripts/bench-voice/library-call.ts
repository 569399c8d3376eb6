/**
 * `npm run bench -- --compare library`: a caller page speaking the voice library's protocol
 * (`agents/voice`'s VoiceClientMessage / VoiceServerMessage, protocol 1), read as the bench reads
 * the app's page: its audio is raw 16 kHz PCM16 both ways (the agent asks for `pcm16`); a reply
 * starts with its first binary message and has been said when the status goes back to
 * `listening`. The call is the agent named in its URL, which is also its name at the fakes.
 */

import { FRAME_BYTES } from "./settings.ts";
import {
  type CallerPage,
  type OpenPage,
  type PageTurn,
  replyDoneWhenQuiet,
  whenOpen,
} from "./simulated-call.ts";

/** The agent's class in kebab case, as the Agents SDK routes it (library/agent.ts). */
const AGENT_PATH = "agents/library-agent";

export const openLibraryPage: OpenPage = (pageUrl, index, tag) =>
  new LibraryCall(pageUrl, index, tag);

class LibraryCall implements CallerPage {
  readonly index: number;
  readonly tag: string;
  sessionId: string;
  readonly turns: PageTurn[] = [];
  current = 0;
  interruptions = 0;
  onReplyDone: ((call: CallerPage, turn: number) => void) | undefined;
  readonly #ws: WebSocket;
  #onListening: (() => void) | undefined;
  #failed: ((error: Error) => void) | undefined;
  #onDone: (() => void) | undefined;
  readonly #recent: string[] = [];

  constructor(pageUrl: string, index: number, tag: string) {
    this.index = index;
    this.tag = tag;
    // Agent names are URL path segments: the tag's letters and digits, and a random suffix.
    this.sessionId = `${tag.replace(/[^a-z0-9]/gi, "")}-${index}-${crypto.randomUUID().slice(0, 8)}`;
    this.#ws = new WebSocket(`${pageUrl.replace("http", "ws")}${AGENT_PATH}/${this.sessionId}`);
    this.#ws.binaryType = "arraybuffer";
    this.#ws.addEventListener("message", (event) => this.#onMessage(event.data));
    this.#ws.addEventListener("close", () => this.#failed?.(new Error("socket closed")));
  }

  /** Starts the call (no PIN: the library has no sign-in) and resolves once it listens. */
  async signIn(): Promise<string> {
    await whenOpen(this.#ws);
    const listening = new Promise<void>((resolve, reject) => {
      this.#onListening = resolve;
      this.#failed = reject;
    });
    this.#ws.send(JSON.stringify({ type: "hello", protocol_version: 1 }));
    this.#ws.send(JSON.stringify({ type: "start_call", preferred_format: "pcm16" }));
    await listening;
    return this.sessionId;
  }

  finished(turns: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#failed = reject;
      this.#onDone = () => {
        if (this.current >= turns) resolve();
      };
      this.#onDone();
    });
  }

  tick() {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(SILENCE);
  }

  close() {
    this.#failed = undefined;
    this.#ws.close();
  }

  describe(turns: number): string {
    // "N/N replies, N " is what the bench's overdue report takes for a call that finished.
    return `${this.current}/${turns} replies, ${this.current} said; last: ${this.#recent.join(", ")}`;
  }

  #onMessage(data: unknown) {
    const now = performance.now();
    const turn = this.turns[this.current];
    if (data instanceof ArrayBuffer) {
      if (!turn) return;
      turn.replyAt ??= now;
      turn.lastFrameAt = now;
      turn.frames += 1;
      return;
    }
    const message = JSON.parse(String(data)) as {
      type?: string;
      status?: string;
      format?: string;
      sampleRate?: number;
    };
    this.#recent.push(message.status ? `status(${message.status})` : String(message.type));
    if (this.#recent.length > 12) this.#recent.shift();
    switch (message.type) {
      case "status":
        if (message.status !== "listening") return;
        if (this.#onListening) {
          this.#onListening();
          this.#onListening = undefined;
          return;
        }
        // Listening again after a reply that was heard: that reply is done.
        if (!turn || turn.replyAt === undefined || turn.doneAt !== undefined) return;
        turn.doneAt = now;
        return replyDoneWhenQuiet(this, turn, () => this.#onDone?.());
      case "audio_config":
        // The bench counts frames of the page's own format: anything else is a broken yardstick.
        if (message.format === "pcm16" && message.sampleRate === 16_000) return;
        return this.#failed?.(new Error(`the library sends ${JSON.stringify(message)}`));
      case "playback_interrupt":
        this.interruptions += 1;
        return;
      case "error":
        return this.#failed?.(new Error(JSON.stringify(message)));
    }
  }
}

const SILENCE = new Uint8Array(FRAME_BYTES);
