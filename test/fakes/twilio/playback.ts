/**
 * Twilio's side of a bidirectional stream's playback: the app's `media` queues up and plays in
 * real time; a `mark` comes back once the audio sent before it has played; a `clear` drops
 * what has not played yet and sends back every pending mark at once.
 */
import { SAMPLE_RATE } from "./mulaw.ts";

/** Keeps the first 30 s of the app's audio for the tests to measure. */
const MAX_RECEIVED_BYTES = SAMPLE_RATE * 2 * 30;

export class Playback {
  /** performance.now() at which everything queued so far has played. */
  #endsAt = 0;
  #pending: { name: string; at: number }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #received: Buffer[] = [];
  #receivedBytes = 0;
  receivedMs = 0;
  droppedMs = 0;

  readonly #echo: (name: string) => void;

  constructor(echo: (name: string) => void) {
    this.#echo = echo;
  }

  /** The app sent this much μ-law audio, decoded to PCM16LE. */
  audio(pcm16le: Buffer): void {
    const ms = (pcm16le.length / 2 / SAMPLE_RATE) * 1000;
    this.receivedMs += ms;
    this.#endsAt = Math.max(performance.now(), this.#endsAt) + ms;
    const room = MAX_RECEIVED_BYTES - this.#receivedBytes;
    if (room > 0) {
      const kept = pcm16le.subarray(0, room);
      this.#received.push(kept);
      this.#receivedBytes += kept.length;
    }
  }

  mark(name: string): void {
    this.#pending.push({ name, at: Math.max(performance.now(), this.#endsAt) });
    this.#schedule();
  }

  clear(): void {
    const now = performance.now();
    this.droppedMs += Math.max(0, this.#endsAt - now);
    this.#endsAt = now;
    for (const mark of this.#pending) mark.at = now;
    this.#flush();
  }

  get received(): Buffer {
    return Buffer.concat(this.#received);
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#pending = [];
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    const next = this.#pending[0];
    if (!next) return;
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, next.at - performance.now()));
  }

  /** Echoes the due marks in the order the app sent them. */
  #flush(): void {
    const now = performance.now();
    while (this.#pending[0] && (this.#pending[0].at ?? 0) <= now + 1) {
      const mark = this.#pending.shift();
      if (mark) this.#echo(mark.name);
    }
    this.#schedule();
  }
}
