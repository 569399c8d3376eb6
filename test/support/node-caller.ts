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
import {
  parseServerMessage,
  type ServerMessage,
  type ServerMessageOf,
} from "../../protocol/messages.ts";

export interface ReceivedAudio {
  kind: AudioFrameKind;
  pcm: Uint8Array;
  at: number;
}

export class NodeCaller {
  readonly ws: WebSocket;
  readonly #queue: ServerMessage[] = [];
  #wake: (() => void) | undefined;
  closed: { code: number } | undefined;
  /** Every message, in arrival order (the queue is consumed; this is not). */
  readonly log: ServerMessage[] = [];
  readonly audio: ReceivedAudio[] = [];
  #seq = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event) => {
      if (event.data instanceof ArrayBuffer) {
        const frame = decodeAudioFrame(event.data);
        if (frame.ok) {
          this.audio.push({ kind: frame.frame.kind, pcm: frame.frame.pcm, at: performance.now() });
        }
        return;
      }
      const parsed = parseServerMessage(String(event.data));
      if (!parsed.ok) throw new Error(`server sent an invalid message: ${String(event.data)}`);
      this.#queue.push(parsed.message);
      this.log.push(parsed.message);
      this.#wake?.();
    });
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code };
      this.#wake?.();
    });
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

  /** The next message, which must be of `type`. */
  async next<T extends ServerMessage["type"]>(type: T, timeoutMs = 10_000) {
    const message = await this.#take(timeoutMs);
    if (message.type !== type) throw new Error(`expected ${type}, got ${JSON.stringify(message)}`);
    return message as ServerMessageOf<T>;
  }

  /** Skips messages until one of `type` that satisfies `predicate` arrives. */
  async until<T extends ServerMessage["type"]>(
    type: T,
    predicate: (message: ServerMessageOf<T>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<ServerMessageOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.#take(Math.max(1, deadline - Date.now()), type);
      if (message.type === type && predicate(message as ServerMessageOf<T>)) {
        return message as ServerMessageOf<T>;
      }
    }
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

  async #take(timeoutMs: number, waitingFor = "a message"): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      if (this.closed)
        throw new Error(`socket closed (${this.closed.code}) waiting for ${waitingFor}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.log.slice(-8).map((m) => m.type);
        throw new Error(`timed out waiting for ${waitingFor}; last seen: ${seen.join(", ")}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    const message = this.#queue.shift();
    if (!message) throw new Error("unreachable: empty queue");
    return message;
  }

  async waitForClose(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("socket did not close");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return this.closed.code;
  }

  close() {
    if (!this.closed) this.ws.close(1000, "test done");
  }
}
