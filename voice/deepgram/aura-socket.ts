/**
 * Deepgram Aura text-to-speech over its WebSocket (`/v1/speak`): one socket per call, reused
 * sentence after sentence, so no request is set up per sentence. Each sentence is a `Speak` and a
 * `Flush`; its audio arrives as binary messages until `Flushed`. Stopping a sentence (barge-in)
 * sends `Clear`, and audio is dropped until `Cleared` says the old text is gone. Opened with a
 * fetch Upgrade so the Authorization header is really sent from workerd (platform-facts.md).
 *
 * Faults: a `Warning` or `Error` fails the sentence (Aura may drop the text it warns about and
 * still say `Flushed`, which must not pass for speech); a socket that closes mid-sentence fails
 * it; a sentence abandoned for a deadline closes the socket, since a silent socket cannot be
 * trusted with the next one — the next sentence opens a fresh one.
 */
import { ProviderTimeoutError, VoiceProviderError } from "../errors.ts";
import { type AuraOptions, auraUrl } from "./aura-tts.ts";
import { type AuraMessage, readAuraMessage } from "./messages.ts";

/** The sentence being spoken: its audio goes straight to `onAudio` as each message comes. */
interface Pending {
  ws: WebSocket;
  onAudio: (chunk: Uint8Array) => void;
  done: boolean;
  error: Error | undefined;
  /** Ends the sentence's wait (done, failed or stopped). */
  settle: () => void;
}

/** Aura's WebSocket URL with our audio format: 16 kHz linear PCM, as the page plays it. */
export const auraSocketUrl = auraUrl;

export class AuraSocket {
  readonly #options: AuraOptions;
  #ws: WebSocket | undefined;
  #opening: Promise<WebSocket> | undefined;
  /** Closed for good (the call's voice ended): a handshake still in flight is let go. */
  #closed = false;
  #current: Pending | undefined;
  /** After a Clear, until Cleared: audio still arriving belongs to text that was dropped. */
  #discarding = false;

  constructor(options: AuraOptions) {
    this.#options = options;
  }

  /**
   * Opens the socket now if none is open or opening (the caller has started to speak): its
   * handshake then overlaps their words instead of delaying the reply's first sentence. A
   * failure is left to that sentence, which tries again.
   */
  warm() {
    if (this.#closed || this.#ws?.readyState === WebSocket.OPEN || this.#opening) return;
    this.#open().catch(() => undefined);
  }

  /**
   * Raw PCM16LE mono chunks for `text`, to `onAudio` as they come; resolves at `Flushed`, and at
   * once (clearing Aura) when `signal` aborts.
   */
  async synthesize(
    text: string,
    signal: AbortSignal,
    onAudio: (chunk: Uint8Array) => void,
  ): Promise<void> {
    const ws = await this.#open();
    if (signal.aborted) return;
    const { promise: settled, resolve: settle } = Promise.withResolvers<void>();
    const pending: Pending = { ws, onAudio, done: false, error: undefined, settle };
    this.#current = pending;
    const onAbort = () => {
      // A deadline, not a barge-in: this socket went quiet; the next sentence gets a new one.
      if (signal.reason instanceof ProviderTimeoutError) this.#abandon(ws);
      else this.#clear(ws);
      pending.done = true;
      pending.settle();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      this.#send(ws, { type: "Speak", text });
      this.#send(ws, { type: "Flush" });
      await settled;
      if (pending.error) throw pending.error;
    } finally {
      signal.removeEventListener("abort", onAbort);
      if (this.#current === pending) this.#current = undefined;
    }
  }

  close() {
    this.#closed = true;
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

  /** Drops Aura's text and the audio still on its way, until `Cleared`. */
  #clear(ws: WebSocket) {
    this.#discarding = true;
    this.#send(ws, { type: "Clear" });
  }

  #abandon(ws: WebSocket) {
    if (this.#ws === ws) this.#ws = undefined;
    try {
      ws.close(1000, "abandoned");
    } catch {
      // already closed
    }
  }

  #open(): Promise<WebSocket> {
    if (this.#ws?.readyState === WebSocket.OPEN) return Promise.resolve(this.#ws);
    this.#opening ??= this.#connect().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #connect(): Promise<WebSocket> {
    let response: Response;
    // The deadline is for the handshake only: the fetch's signal stays tied to the socket it
    // returns, and workerd drops the socket (1006, no Close frame) when the signal aborts.
    const handshake = new AbortController();
    const deadline = setTimeout(
      () => handshake.abort(new DOMException("Deepgram TTS handshake timed out.", "TimeoutError")),
      this.#options.connectTimeoutMs ?? 5_000,
    );
    try {
      response = await fetch(auraSocketUrl(this.#options), {
        headers: { Upgrade: "websocket", Authorization: `Token ${this.#options.apiKey}` },
        signal: handshake.signal,
      });
    } catch (error) {
      throw new VoiceProviderError("Could not reach Deepgram TTS.", {
        retryable: true,
        cause: error,
      });
    } finally {
      clearTimeout(deadline);
    }
    const ws = response.webSocket;
    if (!ws) {
      await response.body?.cancel();
      throw VoiceProviderError.refused("Deepgram TTS", response.status);
    }
    ws.accept();
    if (this.#closed) {
      ws.close(1000, "done");
      throw new VoiceProviderError("Deepgram TTS was closed while its socket opened.", {
        retryable: false,
      });
    }
    ws.binaryType = "arraybuffer";
    this.#discarding = false;
    ws.addEventListener("message", (event) => this.#onMessage(ws, event.data));
    ws.addEventListener("close", (event) => {
      if (this.#ws === ws) this.#ws = undefined;
      const pending = this.#current;
      if (pending?.ws === ws && !pending.done) {
        this.#fail(
          pending,
          new VoiceProviderError(
            `Deepgram TTS socket closed (${event.code}${event.reason ? ` ${event.reason}` : ""}) mid-sentence.`,
            { retryable: true },
          ),
        );
      }
    });
    this.#ws = ws;
    return ws;
  }

  #fail(pending: Pending, error: Error) {
    pending.error ??= error;
    pending.settle();
  }

  #onMessage(ws: WebSocket, data: unknown) {
    // A socket given up on may still talk: nothing it says belongs to anything now.
    if (ws !== this.#ws) return;
    const pending = this.#current?.ws === ws ? this.#current : undefined;
    if (data instanceof ArrayBuffer) {
      if (this.#discarding || !pending || pending.done || pending.error) return;
      return pending.onAudio(new Uint8Array(data));
    }
    if (typeof data !== "string") return;
    let parsed: AuraMessage | undefined;
    try {
      parsed = readAuraMessage(JSON.parse(data));
    } catch {
      return;
    }
    if (!parsed) return;
    const detail = parsed.detail ?? "unknown";
    switch (parsed.type) {
      case "Cleared":
        this.#discarding = false;
        return;
      case "Flushed":
        if (this.#discarding || !pending) return;
        pending.done = true;
        return pending.settle();
      case "Warning":
        if (!pending || pending.done) return;
        // Whatever Aura says next about this text (a Flushed with no audio) is cleared away.
        this.#clear(ws);
        return this.#fail(
          pending,
          new VoiceProviderError(`Deepgram TTS warning: ${detail}`, { retryable: false }),
        );
      case "Error":
        if (!pending) return;
        return this.#fail(
          pending,
          new VoiceProviderError(`Deepgram TTS error: ${detail}`, { retryable: true }),
        );
      case "Metadata":
        return;
    }
  }
}
