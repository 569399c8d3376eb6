/**
 * The human's side of the line: one 20 ms μ-law frame per tick, in real time. The timer is
 * drift-corrected against the stream's start (tick n is due at start + n × 20 ms), so frames
 * neither bunch up nor slip however late a single timer fires. A frame carries the queued
 * tones, or μ-law silence (when `silence` is on, as a phone line always carries audio).
 */
import { FRAME_BYTES, FRAME_MS, MULAW_SILENCE, type Tone, ToneSource } from "./mulaw.ts";

export interface MediaClockOptions {
  silence: boolean;
  /** Sends one frame, stamped in ms since the start; false when it can no longer be sent. */
  emit: (frame: Uint8Array, timestampMs: number) => boolean;
}

export class MediaClock {
  readonly #options: MediaClockOptions;
  #t0 = 0;
  #tick = 0;
  #running = false;
  #started = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #tones: { source: ToneSource; resolve: () => void }[] = [];

  constructor(options: MediaClockOptions) {
    this.#options = options;
  }

  /** Time zero of the stream's timestamps. */
  start(): void {
    this.#started = true;
    this.#t0 = performance.now();
    if (this.#options.silence) this.#run();
  }

  /** Resolves once the tone's last frame has been sent (or the clock stopped). */
  tone(tone: Tone): Promise<void> {
    return new Promise((resolve) => {
      this.#tones.push({ source: new ToneSource(tone), resolve });
      if (this.#started) this.#run();
    });
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#running = false;
    this.#started = false;
    for (const tone of this.#tones.splice(0)) tone.resolve();
  }

  #run(): void {
    if (this.#running) return;
    this.#running = true;
    // After a quiet gap (silence off), resume on the stream's 20 ms grid, not in the past.
    this.#tick = Math.max(this.#tick, Math.ceil((performance.now() - this.#t0) / FRAME_MS));
    this.#schedule();
  }

  #schedule(): void {
    const due = this.#t0 + this.#tick * FRAME_MS;
    this.#timer = setTimeout(() => this.#onTick(), Math.max(0, due - performance.now()));
  }

  #onTick(): void {
    const frame = this.#nextFrame();
    if (!frame || !this.#options.emit(frame, this.#tick * FRAME_MS)) {
      this.#running = false;
      return;
    }
    this.#tick += 1;
    this.#schedule();
  }

  #nextFrame(): Uint8Array | null {
    if (this.#tones.length === 0 && !this.#options.silence) return null;
    const frame = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
    let offset = 0;
    for (let tone = this.#tones[0]; tone && offset < FRAME_BYTES; tone = this.#tones[0]) {
      offset += tone.source.fill(frame, offset, FRAME_BYTES - offset);
      if (!tone.source.done) break;
      this.#tones.shift();
      tone.resolve();
    }
    return frame;
  }
}
