/**
 * The player's path inside its worklet, as plain code: 16 kHz PCM16 frames (the assistant, or
 * the person on a transfer) queue behind a small jitter buffer and are played at the context's
 * rate through the resampler's interpolation filter — not by repeating samples, which leaves
 * images of the voice above 8 kHz (a harsh, metallic edge).
 *
 * A frame may mark the start of a reply: `reply_started` is reported when that frame's first
 * sample is played, and "clear" (the caller spoke over it) drops everything queued at once and
 * says how much of the current reply was played — the server keeps only that part.
 */
import { Resampler } from "./resampler.ts";

export const PLAYER_RATE = 16_000;
/** Wait for this much audio before starting, so network jitter does not cause gaps. */
const JITTER_SAMPLES = PLAYER_RATE * 0.06;

export type PlayerReport =
  | { type: "playing" | "idle" }
  | { type: "reply_started" }
  | { type: "cleared"; playedMs: number };

interface Chunk {
  samples: Float32Array;
  replyStart: boolean;
}

export class Playout {
  readonly #outRate: number;
  readonly #report: (report: PlayerReport) => void;
  readonly #resampler: Resampler;
  /** Frames waiting to be resampled, and how many input samples they hold. */
  #queue: Chunk[] = [];
  #buffered = 0;
  #playing = false;
  /** Resampled audio not yet played: #fifo[#read…#write). */
  #fifo = new Float32Array(4096);
  #read = 0;
  #write = 0;
  /** Output samples produced and played since the start, and where the stream last restarted. */
  #produced = 0;
  #played = 0;
  #streamStart = 0;
  /** Input samples fed since the stream last restarted (places a reply's start in the output). */
  #fedIn = 0;
  /** Output positions where a reply starts, oldest first; and where the current one started. */
  #replyMarks: number[] = [];
  #replyStartedAt = 0;
  /** The filter's last samples were pushed out after the queue ran dry. */
  #flushed = false;
  readonly #tail: Float32Array;

  constructor(outRate: number, report: (report: PlayerReport) => void) {
    this.#outRate = outRate;
    this.#report = report;
    this.#resampler = new Resampler(PLAYER_RATE, outRate);
    this.#tail = new Float32Array(Math.ceil(this.#resampler.taps / 2));
  }

  /** One frame of 16 kHz PCM16; `replyStart` on a reply's first frame. */
  push(pcm: Int16Array, replyStart: boolean) {
    const samples = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) samples[i] = (pcm[i] ?? 0) / 32768;
    this.#queue.push({ samples, replyStart });
    this.#buffered += samples.length;
  }

  /** The caller spoke over the reply: silence at once, and how much of it was played. */
  clear() {
    this.#queue = [];
    this.#buffered = 0;
    this.#report({
      type: "cleared",
      playedMs: Math.round(((this.#played - this.#replyStartedAt) / this.#outRate) * 1000),
    });
    this.#replyStartedAt = this.#played;
    this.#restart();
    this.#setPlaying(false);
  }

  /** Fills one render quantum. */
  render(out: Float32Array) {
    if (!this.#playing && this.#buffered >= JITTER_SAMPLES) this.#setPlaying(true);
    let i = 0;
    while (this.#playing && i < out.length) {
      if (this.#write > this.#read) {
        i += this.#copy(out, i);
      } else if (this.#queue.length > 0) {
        this.#feed();
      } else if (!this.#flushed) {
        // The filter holds the last ~2 ms: zeros push them out.
        this.#flushed = true;
        this.#append(this.#resampler.process(this.#tail));
      } else {
        this.#restart();
        this.#setPlaying(false);
      }
    }
    out.fill(0, i);
  }

  #copy(out: Float32Array, at: number): number {
    for (let mark = this.#replyMarks[0]; mark !== undefined && mark <= this.#played; ) {
      this.#replyMarks.shift();
      this.#replyStartedAt = mark;
      this.#report({ type: "reply_started" });
      mark = this.#replyMarks[0];
    }
    let n = Math.min(this.#write - this.#read, out.length - at);
    // Stop at the next reply's start, so it is reported on the quantum it starts in.
    const next = this.#replyMarks[0];
    if (next !== undefined) n = Math.min(n, next - this.#played);
    out.set(this.#fifo.subarray(this.#read, this.#read + n), at);
    this.#read += n;
    this.#played += n;
    return n;
  }

  #feed() {
    const chunk = this.#queue.shift();
    if (!chunk) return;
    this.#buffered -= chunk.samples.length;
    if (chunk.replyStart) {
      // The resampler is zero-phase: input sample k plays at output k × outRate / inRate.
      this.#replyMarks.push(
        this.#streamStart + Math.round((this.#fedIn * this.#outRate) / PLAYER_RATE),
      );
    }
    this.#fedIn += chunk.samples.length;
    this.#flushed = false;
    this.#append(this.#resampler.process(chunk.samples));
  }

  #append(samples: Float32Array) {
    if (this.#read === this.#write) this.#read = this.#write = 0;
    if (this.#write + samples.length > this.#fifo.length) {
      const pending = this.#fifo.subarray(this.#read, this.#write);
      const next =
        pending.length + samples.length > this.#fifo.length
          ? new Float32Array(2 * (pending.length + samples.length))
          : this.#fifo;
      next.set(pending, 0);
      this.#fifo = next;
      this.#write = pending.length;
      this.#read = 0;
    }
    this.#fifo.set(samples, this.#write);
    this.#write += samples.length;
    this.#produced += samples.length;
  }

  /** Drops what is resampled but unplayed; the next audio starts a fresh stream. */
  #restart() {
    this.#read = this.#write = 0;
    this.#produced = this.#played;
    this.#streamStart = this.#played;
    this.#fedIn = 0;
    this.#replyMarks = [];
    this.#flushed = false;
    this.#resampler.reset();
  }

  #setPlaying(playing: boolean) {
    if (playing === this.#playing) return;
    this.#playing = playing;
    this.#report({ type: playing ? "playing" : "idle" });
  }
}
