/** `npm run bench` (scripts/bench-voice.ts): the one clock of every simulated caller's audio. */
import { FRAME_MS } from "./settings.ts";

/**
 * Every call gets a frame on every tick (all callers start together), so the audio position is
 * the same for all of them: `frames × 100 ms`. Ticks are paced against the start, not chained.
 */
export class AudioTicker {
  /** When each frame was sent (index n: the frame ending at (n + 1) × 100 ms). */
  readonly sentAt: number[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #start = 0;
  #stopped = false;

  readonly onTick: (audioMs: number) => void;

  constructor(onTick: (audioMs: number) => void) {
    this.onTick = onTick;
  }

  start() {
    this.#start = performance.now();
    this.#tick();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  get audioMs(): number {
    return this.sentAt.length * FRAME_MS;
  }

  /** Where the caller's audio stood at `at` (ms, between frames by the clock). */
  positionAt(at: number): number {
    let n = this.sentAt.length;
    while (n > 0 && (this.sentAt[n - 1] ?? 0) > at) n -= 1;
    if (n === 0) return 0;
    return (n - 1) * FRAME_MS + Math.min(FRAME_MS, at - (this.sentAt[n - 1] ?? at));
  }

  /** When the frame ending at `audioMs` was sent. */
  frameSentAt(audioMs: number): number | undefined {
    return this.sentAt[audioMs / FRAME_MS - 1];
  }

  #tick = () => {
    if (this.#stopped) return;
    this.sentAt.push(performance.now());
    this.onTick(this.audioMs);
    const next = this.#start + this.sentAt.length * FRAME_MS;
    this.#timer = setTimeout(this.#tick, Math.max(0, next - performance.now()));
  };
}
