/**
 * The assistant's voice for one turn: sentences go to TTS one after another as the model
 * writes them, and the audio leaves in frames as it arrives — so the first sentence is heard
 * while the rest is still being written. `stop()` drops everything not yet sent (barge-in).
 * It also keeps where each sentence's audio ends, so that once the page says how much it
 * played, the part of the reply the caller really heard is known (`heardText`).
 */
import { MAX_AUDIO_PAYLOAD_BYTES } from "../protocol/audio-frame.ts";
import { HeldOutput } from "./held-output.ts";
import { SentenceChunker } from "./sentence-chunker.ts";
import type { TurnMarks } from "./turn-metrics.ts";

export type Synthesize = (text: string, signal: AbortSignal) => AsyncIterable<Uint8Array>;

/** Assistant audio is 16 kHz PCM16: 32 bytes per millisecond. */
const BYTES_PER_MS = 32;
/**
 * The page's jitter buffer (60 ms) and the trip there: audio is still playing this long after
 * the clock says it should have ended.
 */
const PLAYOUT_MARGIN_MS = 150;

export interface SpeechOutputDeps {
  synthesize: Synthesize;
  /** Plain 16 kHz PCM16LE, at most 100 ms a call; `replyStart` on the reply's first audio. */
  sendAudio(pcm: Uint8Array, replyStart: boolean): void;
  /** The turn's timeline: TTS request, first byte and first frame sent are marked here. */
  marks: TurnMarks;
  /** Until committed, frames wait (a Flux speculative turn). @default committed */
  output?: HeldOutput;
  /** First audio of the turn left the server. */
  onFirstAudio(): void;
  onError(error: unknown): void;
}

interface SentSentence {
  text: string;
  startMs: number;
  /** Set once the sentence's audio was sent in full. */
  endMs?: number;
}

export class SpeechOutput {
  readonly #deps: SpeechOutputDeps;
  readonly #output: HeldOutput;
  readonly #chunker = new SentenceChunker();
  readonly #controller = new AbortController();
  /** Sentences are spoken strictly one after another. */
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #sentAny = false;
  #sentMs = 0;
  #lastSentAt = 0;
  readonly #sentences: SentSentence[] = [];

  constructor(deps: SpeechOutputDeps) {
    this.#deps = deps;
    this.#output = deps.output ?? HeldOutput.committed();
  }

  /**
   * The caller is hearing (or about to hear) this reply: audio is still being produced, or what
   * was sent has not finished playing. Aura is faster than real time, so a reply is usually sent
   * in full long before it has been heard.
   */
  get speaking(): boolean {
    if (this.#controller.signal.aborted || this.#output.held) return false;
    return this.#pending > 0 || Date.now() < (this.#audibleUntil ?? 0);
  }

  /** When the page will have played everything sent so far (undefined before any audio left). */
  get #audibleUntil(): number | undefined {
    const start = this.#deps.marks.firstAudioSentAt;
    if (start === undefined) return undefined;
    return Math.max(start + this.#sentMs, this.#lastSentAt) + PLAYOUT_MARGIN_MS;
  }

  /** How much of the reply the page has had time to play, by the clock (no report from it). */
  get playedEstimateMs(): number {
    const start = this.#deps.marks.firstAudioSentAt;
    if (start === undefined) return 0;
    return Math.min(this.#sentMs, Math.max(0, Date.now() - start - PLAYOUT_MARGIN_MS));
  }

  /** Sentences whose audio was sent in full. */
  get spoken(): string[] {
    return this.#sentences.filter((s) => s.endMs !== undefined).map((s) => s.text);
  }

  /** Milliseconds of audio sent so far. */
  get sentMs(): number {
    return this.#sentMs;
  }

  /** The model was asked (each call of a turn; the first one counts). */
  modelRequested() {
    this.#deps.marks.modelRequestAt ??= Date.now();
  }

  /** Model text as it streams in. */
  write(delta: string) {
    this.#deps.marks.modelFirstTextAt ??= Date.now();
    for (const sentence of this.#chunker.push(delta)) this.#enqueue(sentence);
  }

  /**
   * The model has finished: speak the rest. Resolves when everything was sent and has had time
   * to play, so the caller can still cut the reply short until they have heard it — or at once
   * on stop().
   */
  async end(): Promise<void> {
    for (const rest of this.#chunker.flush()) this.#enqueue(rest);
    await this.#tail;
    const signal = this.#controller.signal;
    const wait = (this.#audibleUntil ?? 0) - Date.now();
    if (wait <= 0 || signal.aborted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Barge-in or cancel: nothing more leaves. */
  stop() {
    this.#chunker.reset();
    this.#controller.abort();
  }

  /**
   * What the caller heard once `playedMs` of this reply's audio had played: every sentence that
   * played to its end, and of the one cut off, its words in proportion to the part played.
   * Without a report from the page, the sentences sent in full.
   */
  heardText(playedMs?: number): string {
    if (playedMs === undefined) return this.spoken.join(" ");
    const heard: string[] = [];
    for (const sentence of this.#sentences) {
      if (sentence.startMs >= playedMs) break;
      if (sentence.endMs !== undefined && sentence.endMs <= playedMs + 1) {
        heard.push(sentence.text);
        continue;
      }
      if (sentence.endMs === undefined) break;
      const words = sentence.text.split(/\s+/);
      const fraction = (playedMs - sentence.startMs) / (sentence.endMs - sentence.startMs);
      const kept = words.slice(0, Math.floor(words.length * fraction));
      if (kept.length) heard.push(`${kept.join(" ")}…`);
      break;
    }
    return heard.join(" ");
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

  async #speak(text: string) {
    const signal = this.#controller.signal;
    if (signal.aborted) return;
    const marks = this.#deps.marks;
    marks.ttsRequestAt ??= Date.now();
    const sentence: SentSentence = { text, startMs: -1 };
    let carry: Uint8Array | undefined;
    try {
      for await (const chunk of this.#deps.synthesize(text, signal)) {
        if (signal.aborted) return;
        marks.ttsFirstByteAt ??= Date.now();
        carry = this.#sendFrames(sentence, carry ? concat(carry, chunk) : chunk);
      }
    } catch (error) {
      if (!signal.aborted) this.#deps.onError(error);
      return;
    }
    if (signal.aborted) return;
    this.#output.run(() => {
      if (sentence.startMs < 0) sentence.startMs = this.#sentMs;
      sentence.endMs = this.#sentMs;
      if (!this.#sentences.includes(sentence)) this.#sentences.push(sentence);
    });
  }

  /** Frames of at most 100 ms and whole samples; returns the odd byte left over, if any. */
  #sendFrames(sentence: SentSentence, bytes: Uint8Array): Uint8Array | undefined {
    let at = 0;
    while (bytes.byteLength - at >= 2) {
      const size = Math.min(MAX_AUDIO_PAYLOAD_BYTES, (bytes.byteLength - at) & ~1);
      const pcm = bytes.subarray(at, at + size);
      this.#output.run(() => {
        if (this.#controller.signal.aborted) return;
        const first = !this.#sentAny;
        this.#sentAny = true;
        if (sentence.startMs < 0) {
          sentence.startMs = this.#sentMs;
          this.#sentences.push(sentence);
        }
        this.#sentMs += pcm.byteLength / BYTES_PER_MS;
        this.#lastSentAt = Date.now();
        this.#deps.sendAudio(pcm, first);
        if (first) {
          this.#deps.marks.firstAudioSentAt = Date.now();
          this.#deps.onFirstAudio();
        }
      });
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
