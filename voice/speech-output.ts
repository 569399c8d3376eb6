/**
 * The assistant's voice for one turn: sentences go to TTS one after another as the model
 * writes them, and the audio leaves in frames as it arrives — so the first sentence is heard
 * while the rest is still being written. `stop()` drops everything not yet sent (barge-in).
 * It also keeps where each sentence's audio ends, so that once the page says how much it
 * played, the part of the reply the caller really heard is known (`heardText`).
 *
 * Every wait for audio has a deadline. A sentence that fails (no audio in time, a provider error
 * or warning, a dropped socket) is not counted as heard, the rest of the reply is not spoken —
 * the page has it as text — and the caller hears the apology clip instead, once.
 */
import { MAX_AUDIO_PAYLOAD_BYTES } from "../protocol/audio-frame.ts";
import { withIdleDeadline } from "./deadline.ts";
import { HeldOutput } from "./held-output.ts";
import { SentenceChunker, splitForSpeech } from "./sentence-chunker.ts";
import type { TurnMarks } from "./turn-metrics.ts";

/**
 * Synthesises `text`, handing its audio to `onAudio` as it arrives; resolves once all of it has
 * come, and ends at once (quietly or with an error) when `signal` aborts.
 */
export type Synthesize = (
  text: string,
  signal: AbortSignal,
  onAudio: (chunk: Uint8Array) => void,
) => Promise<void>;

/** Assistant audio is 16 kHz PCM16: 32 bytes per millisecond. */
const BYTES_PER_MS = 32;
/**
 * The page's jitter buffer (60 ms) and the trip there: audio is still playing this long after
 * the clock says it should have ended.
 */
const PLAYOUT_MARGIN_MS = 150;
/**
 * Once this much of the turn's audio has left (more than the page's jitter buffer), audio that
 * arrives in small pieces is joined into frames of up to 100 ms before it is sent: Aura may send
 * 20 ms at a time, and a frame to the page costs about as much to send whatever its size.
 */
const JOIN_AFTER_MS = 100;
/**
 * Joined audio leaves with the next piece once it has waited this long, or at the sentence's end.
 * No timer: one per frame cost more than the frames saved; a synthesiser that stalls mid-sentence
 * holds back at most 100 ms of audio, while the page still plays what it was sent before.
 */
const JOIN_WAIT_MS = 20;
/**
 * Why a stopped reply's signal aborted: one for the isolate. `abort()` with no reason builds a
 * DOMException, stack and all, and every new reply stops the one before it, on its way to the
 * model request: `stop()` went from about 0.15 to 0.10 ms a turn at ten calls in the CPU profile
 * (docs/benchmarks.md, twenty-fifth session). Nothing needs a reason of its own: what waits on
 * the signal checks `aborted`, or only that the reason is not a provider's timeout.
 */
const STOPPED = new DOMException("The reply was stopped.", "AbortError");

export interface SpeechOutputDeps {
  synthesize: Synthesize;
  /** Plain 16 kHz PCM16LE, at most 100 ms a call; `replyStart` on the turn's first audio. */
  sendAudio(pcm: Uint8Array, replyStart: boolean): void;
  /** The turn's timeline: TTS request, first byte and first frame sent are marked here. */
  marks: TurnMarks;
  /** Until committed, frames wait (a Flux speculative turn). @default committed */
  output?: HeldOutput;
  /** Longest wait for a sentence's next audio, its first byte included. @default 4000 */
  timeoutMs?: number;
  /** Longest text the synthesiser takes at once; longer sentences are split. @default Infinity */
  maxTextChars?: number;
  /** Played once instead of the rest of the reply when speech fails (16 kHz PCM16), if made. */
  apologyClip?: () => Uint8Array | undefined;
  /** First audio of the reply left the server. */
  onFirstAudio(): void;
  onError(error: unknown): void;
  /** Speech failed for this turn; `clipPlayed` when the caller heard the apology clip. */
  onFailed?(clipPlayed: boolean): void;
}

interface SentSentence {
  text: string;
  startMs: number;
  /** Set once the sentence's audio was sent in full. */
  endMs?: number;
}

/** A piece to say: part of the reply, or said aside ("One moment…") and not part of it. */
interface Piece {
  text: string;
  aside: boolean;
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
  /** When the turn's first audio of any kind left (an aside may come before the reply). */
  #audioStartAt: number | undefined;
  #failed = false;
  #hasReply = false;
  readonly #sentences: SentSentence[] = [];
  /** Audio received and not yet sent (being joined into a bigger frame), for `#unsentFor`. */
  #unsent: Uint8Array[] = [];
  #unsentBytes = 0;
  #unsentFor: SentSentence | undefined;
  /** When the oldest unsent piece arrived. */
  #unsentSince = 0;

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
    const start = this.#audioStartAt;
    if (start === undefined) return undefined;
    return Math.max(start + this.#sentMs, this.#lastSentAt) + PLAYOUT_MARGIN_MS;
  }

  /** How much of the reply the page has had time to play, by the clock (no report from it). */
  get playedEstimateMs(): number {
    const start = this.#audioStartAt;
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

  /** Speech failed this turn: the rest of the reply is text only. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Some of the reply's text has arrived (to be spoken, or spoken already). */
  get hasReply(): boolean {
    return this.#hasReply;
  }

  /** The model was asked (each call of a turn; the first one counts). */
  modelRequested() {
    this.#deps.marks.modelRequestAt ??= Date.now();
  }

  /** Model text as it streams in. */
  write(delta: string) {
    this.#deps.marks.modelFirstTextAt ??= Date.now();
    this.#hasReply = true;
    for (const sentence of this.#chunker.push(delta)) this.#enqueue(sentence, false);
  }

  /**
   * The model's message has ended (its answer, or the words before a tool): what it wrote is
   * whole, so the rest goes to speech now. Held for words that will not come, "Let me check."
   * was heard only once the tool had run and the next answer streamed, and a reply's last
   * sentence only after the turn's bookkeeping.
   */
  textEnded() {
    for (const rest of this.#chunker.flush()) this.#enqueue(rest, false);
  }

  /** Says `text` in the queue's order without making it part of the reply ("One moment…"). */
  aside(text: string) {
    this.#enqueue(text, true);
  }

  /**
   * The model has finished: speak the rest. Resolves when everything was sent and has had time
   * to play, so the caller can still cut the reply short until they have heard it — or at once
   * on stop().
   */
  async end(): Promise<void> {
    this.textEnded();
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
    this.#controller.abort(STOPPED);
    this.#dropUnsent();
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

  #enqueue(text: string, aside: boolean) {
    if (this.#controller.signal.aborted || this.#failed) return;
    for (const piece of splitForSpeech(text, this.#deps.maxTextChars ?? Number.POSITIVE_INFINITY)) {
      this.#pending += 1;
      this.#tail = this.#tail
        .then(() => this.#speak({ text: piece, aside }))
        .finally(() => {
          this.#pending -= 1;
        });
    }
  }

  async #speak(piece: Piece) {
    const signal = this.#controller.signal;
    if (signal.aborted || this.#failed) return;
    const marks = this.#deps.marks;
    if (!piece.aside) marks.ttsRequestAt ??= Date.now();
    const sentence: SentSentence = { text: piece.text, startMs: -1 };
    const target = piece.aside ? undefined : sentence;
    try {
      await withIdleDeadline(
        (s, onAudio) => this.#deps.synthesize(piece.text, s, onAudio),
        (chunk: Uint8Array) => {
          if (!piece.aside) marks.ttsFirstByteAt ??= Date.now();
          this.#audio(target, chunk);
        },
        this.#deps.timeoutMs ?? 4_000,
        signal,
        "Speech synthesis",
      );
    } catch (error) {
      if (!signal.aborted) this.#fail(error);
      return;
    }
    // The sentence's last audio leaves now; an odd byte left over is not a sample.
    this.#sendUnsent(false);
    this.#dropUnsent();
    if (signal.aborted || piece.aside) return;
    this.#output.run(() => {
      if (sentence.startMs < 0) sentence.startMs = this.#sentMs;
      sentence.endMs = this.#sentMs;
      if (!this.#sentences.includes(sentence)) this.#sentences.push(sentence);
    });
  }

  /** The rest of the reply stays text; the caller hears the apology clip once, if there is one. */
  #fail(error: unknown) {
    if (this.#failed) return;
    this.#failed = true;
    // What arrived before the failure is speech the caller would have heard: it leaves first,
    // whatever part of it was still being joined into a frame, and the apology after it.
    this.#sendUnsent(false);
    this.#dropUnsent();
    this.#chunker.reset();
    this.#deps.onError(error);
    const clip = this.#deps.apologyClip?.();
    if (clip) this.#sendFrames(undefined, clip);
    this.#deps.onFailed?.(clip !== undefined);
  }

  /**
   * Audio of `sentence` (none: said aside) as it arrives. The turn's first audio leaves at once,
   * as whole samples; past JOIN_AFTER_MS it is joined into frames of up to 100 ms, which leave
   * when full, when the oldest piece has waited JOIN_WAIT_MS, or at the sentence's end (output
   * held for a speculative turn is sent as it comes).
   */
  #audio(sentence: SentSentence | undefined, chunk: Uint8Array) {
    if (this.#unsentFor !== sentence) this.#sendUnsent(false);
    const now = Date.now();
    if (this.#unsentBytes === 0) this.#unsentSince = now;
    this.#unsentFor = sentence;
    this.#unsent.push(chunk);
    this.#unsentBytes += chunk.byteLength;
    if (this.#sentMs < JOIN_AFTER_MS || this.#output.held) return this.#sendUnsent(false);
    if (now - this.#unsentSince >= JOIN_WAIT_MS) return this.#sendUnsent(false);
    if (this.#unsentBytes >= MAX_AUDIO_PAYLOAD_BYTES) this.#sendUnsent(true);
  }

  /** Sends the unsent audio: all of its whole samples, or (`framesOnly`) whole 100 ms frames. */
  #sendUnsent(framesOnly: boolean) {
    if (this.#unsentBytes < 2) return;
    const bytes =
      this.#unsent.length === 1 ? (this.#unsent[0] as Uint8Array) : joined(this.#unsent);
    const size = framesOnly
      ? bytes.byteLength - (bytes.byteLength % MAX_AUDIO_PAYLOAD_BYTES)
      : bytes.byteLength & ~1;
    this.#sendFrames(this.#unsentFor, bytes.subarray(0, size));
    const rest = bytes.subarray(size);
    this.#unsent = rest.byteLength > 0 ? [rest] : [];
    this.#unsentBytes = rest.byteLength;
    this.#unsentSince = Date.now();
  }

  #dropUnsent() {
    this.#unsent = [];
    this.#unsentBytes = 0;
    this.#unsentFor = undefined;
  }

  /** Frames of at most 100 ms (whole samples), for `sentence` of the reply (none: said aside). */
  #sendFrames(sentence: SentSentence | undefined, bytes: Uint8Array) {
    let at = 0;
    while (bytes.byteLength - at >= 2) {
      const size = Math.min(MAX_AUDIO_PAYLOAD_BYTES, (bytes.byteLength - at) & ~1);
      const pcm = bytes.subarray(at, at + size);
      this.#output.run(() => {
        if (this.#controller.signal.aborted) return;
        const first = !this.#sentAny;
        this.#sentAny = true;
        if (sentence && sentence.startMs < 0) {
          sentence.startMs = this.#sentMs;
          this.#sentences.push(sentence);
        }
        this.#sentMs += pcm.byteLength / BYTES_PER_MS;
        this.#lastSentAt = Date.now();
        this.#audioStartAt ??= this.#lastSentAt;
        this.#deps.sendAudio(pcm, first);
        if (sentence && this.#deps.marks.firstAudioSentAt === undefined) {
          this.#deps.marks.firstAudioSentAt = Date.now();
          this.#deps.onFirstAudio();
        }
      });
      at += size;
    }
  }
}

function joined(chunks: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.byteLength;
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
