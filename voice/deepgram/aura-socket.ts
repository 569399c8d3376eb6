/**
 * Deepgram Aura text-to-speech over its WebSocket (`/v1/speak`): one socket per call, reused
 * sentence after sentence, so no request is set up per sentence. Each sentence is a `Speak` and a
 * `Flush`; its audio arrives as binary messages until `Flushed`. Stopping a sentence (barge-in)
 * sends `Clear`, and audio is dropped until `Cleared` says the old text is gone. Opened with a
 * fetch Upgrade so the Authorization header is really sent from workerd (platform-facts.md).
 */
import { z } from "zod";
import type { AuraOptions } from "./aura-tts.ts";

export const AuraSocketMessageSchema = z.object({
  type: z.enum(["Metadata", "Flushed", "Cleared", "Warning", "Error"]),
  description: z.string().optional(),
  err_msg: z.string().optional(),
});

interface Pending {
  chunks: Uint8Array[];
  done: boolean;
  error: Error | undefined;
  wake: () => void;
}

/** Aura's WebSocket URL with our audio format: 16 kHz linear PCM, as the page plays it. */
export function auraSocketUrl(options: AuraOptions): URL {
  const url = new URL("/v1/speak", options.baseUrl);
  url.searchParams.set("model", options.model ?? "aura-2-thalia-en");
  url.searchParams.set("encoding", "linear16");
  url.searchParams.set("sample_rate", String(options.sampleRate ?? 16_000));
  return url;
}

export class AuraSocket {
  readonly #options: AuraOptions;
  #ws: WebSocket | undefined;
  #opening: Promise<WebSocket> | undefined;
  #current: Pending | undefined;
  /** After a Clear, until Cleared: audio still arriving belongs to text that was dropped. */
  #discarding = false;

  constructor(options: AuraOptions) {
    this.#options = options;
  }

  /** Raw PCM16LE mono chunks for `text`; stops at once (and clears Aura) when `signal` aborts. */
  async *synthesize(text: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    const ws = await this.#open();
    if (signal.aborted) return;
    const pending: Pending = { chunks: [], done: false, error: undefined, wake: () => undefined };
    this.#current = pending;
    const onAbort = () => {
      this.#discarding = true;
      this.#send(ws, { type: "Clear" });
      pending.done = true;
      pending.wake();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      this.#send(ws, { type: "Speak", text });
      this.#send(ws, { type: "Flush" });
      for (;;) {
        const chunk = pending.chunks.shift();
        if (chunk) {
          yield chunk;
          continue;
        }
        if (pending.error) throw pending.error;
        if (pending.done) return;
        await new Promise<void>((resolve) => {
          pending.wake = resolve;
        });
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      if (this.#current === pending) this.#current = undefined;
    }
  }

  close() {
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws?.readyState === WebSocket.OPEN) {
      this.#send(ws, { type: "Close" });
      ws.close(1000, "done");
    }
  }

  #send(ws: WebSocket, message: object) {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  #open(): Promise<WebSocket> {
    if (this.#ws?.readyState === WebSocket.OPEN) return Promise.resolve(this.#ws);
    this.#opening ??= this.#connect().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #connect(): Promise<WebSocket> {
    const response = await fetch(auraSocketUrl(this.#options), {
      headers: { Upgrade: "websocket", Authorization: `Token ${this.#options.apiKey}` },
    });
    const ws = response.webSocket;
    if (!ws) throw new Error(`Deepgram TTS refused the connection (HTTP ${response.status}).`);
    ws.accept();
    ws.binaryType = "arraybuffer";
    this.#discarding = false;
    ws.addEventListener("message", (event) => this.#onMessage(event.data));
    ws.addEventListener("close", (event) => {
      if (this.#ws === ws) this.#ws = undefined;
      const pending = this.#current;
      if (pending && !pending.done) {
        pending.error = new Error(`Deepgram TTS socket closed (${event.code}) mid-sentence.`);
        pending.wake();
      }
    });
    this.#ws = ws;
    return ws;
  }

  #onMessage(data: unknown) {
    const pending = this.#current;
    if (data instanceof ArrayBuffer) {
      if (this.#discarding || !pending || pending.done) return;
      pending.chunks.push(new Uint8Array(data));
      return pending.wake();
    }
    if (typeof data !== "string") return;
    let parsed: z.infer<typeof AuraSocketMessageSchema>;
    try {
      const result = AuraSocketMessageSchema.safeParse(JSON.parse(data));
      if (!result.success) return;
      parsed = result.data;
    } catch {
      return;
    }
    switch (parsed.type) {
      case "Cleared":
        this.#discarding = false;
        return;
      case "Flushed":
        if (this.#discarding || !pending) return;
        pending.done = true;
        return pending.wake();
      case "Error":
        if (!pending) return;
        pending.error = new Error(
          `Deepgram TTS error: ${parsed.err_msg ?? parsed.description ?? "unknown"}`,
        );
        return pending.wake();
      case "Metadata":
      case "Warning":
        return;
    }
  }
}
