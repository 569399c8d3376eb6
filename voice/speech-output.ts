/**
 * The assistant's voice for one turn: sentences go to TTS one after another as the model
 * writes them, and the audio leaves in frames as it arrives — so the first sentence is heard
 * while the rest is still being written. `stop()` drops everything not yet sent (barge-in).
 */
import {
  AudioFrameKind,
  encodeAudioFrame,
  MAX_AUDIO_PAYLOAD_BYTES,
} from "../protocol/audio-frame.ts";
import { SentenceChunker } from "./sentence-chunker.ts";

export type Synthesize = (text: string, signal: AbortSignal) => AsyncIterable<Uint8Array>;

export interface SpeechOutputDeps {
  synthesize: Synthesize;
  sendFrame(frame: Uint8Array): void;
  /** First audio of the turn left the server. */
  onFirstAudio(ttsFirstByteMs: number): void;
  onError(error: unknown): void;
}

export class SpeechOutput {
  readonly #deps: SpeechOutputDeps;
  readonly #chunker = new SentenceChunker();
  readonly #controller = new AbortController();
  /** Sentences are spoken strictly one after another. */
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #seq = 0;
  #sentFirst = false;
  /** Sentences whose audio was sent in full: what the caller heard. */
  readonly spoken: string[] = [];

  constructor(deps: SpeechOutputDeps) {
    this.#deps = deps;
  }

  /** Audio is still being produced or sent. */
  get speaking(): boolean {
    return this.#pending > 0 && !this.#controller.signal.aborted;
  }

  /** Model text as it streams in. */
  write(delta: string) {
    for (const sentence of this.#chunker.push(delta)) this.#enqueue(sentence);
  }

  /** The model has finished: speak the rest. Resolves when everything was sent. */
  async end(): Promise<void> {
    for (const rest of this.#chunker.flush()) this.#enqueue(rest);
    await this.#tail;
  }

  /** Barge-in or cancel: nothing more leaves. */
  stop() {
    this.#chunker.reset();
    this.#controller.abort();
  }

  #enqueue(sentence: string) {
    if (this.#controller.signal.aborted) return;
    this.#pending += 1;
    this.#tail = this.#tail
      .then(() => this.#speak(sentence))
      .finally(() => {
        this.#pending -= 1;
      });
  }

  async #speak(sentence: string) {
    const signal = this.#controller.signal;
    if (signal.aborted) return;
    const asked = Date.now();
    let carry: Uint8Array | undefined;
    try {
      for await (const chunk of this.#deps.synthesize(sentence, signal)) {
        if (signal.aborted) return;
        if (!this.#sentFirst) {
          this.#sentFirst = true;
          this.#deps.onFirstAudio(Date.now() - asked);
        }
        carry = this.#sendFrames(carry ? concat(carry, chunk) : chunk);
      }
    } catch (error) {
      if (!signal.aborted) this.#deps.onError(error);
      return;
    }
    if (!signal.aborted) this.spoken.push(sentence);
  }

  /** Frames of at most 100 ms and whole samples; returns the odd byte left over, if any. */
  #sendFrames(bytes: Uint8Array): Uint8Array | undefined {
    let at = 0;
    while (bytes.byteLength - at >= 2) {
      const size = Math.min(MAX_AUDIO_PAYLOAD_BYTES, (bytes.byteLength - at) & ~1);
      this.#deps.sendFrame(
        encodeAudioFrame(AudioFrameKind.AssistantPcm, this.#seq++, bytes.subarray(at, at + size)),
      );
      at += size;
    }
    return at < bytes.byteLength ? bytes.slice(at) : undefined;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}
