/** `npm run bench` (scripts/bench-voice.ts): the one clock of every simulated caller's audio. */
import { FRAME_MS } from "./settings.ts";

/**
 * One caller's audio clock: a frame every FRAME_MS (100 ms by default), paced against its start,
 * not chained. Every caller starts together, each `phaseMs` into the burst window (a real page's
 * audio clock starts whenever its microphone does), so the callers' frames — and so their turns'
 * ends — are spread over 100 ms, not sent in one instant; at a given moment every caller's audio
 * position is within 100 ms of the others'.
 */
export class AudioTicker {
  /** When each frame was sent (index n: the frame ending at (n + 1) × FRAME_MS). */
  readonly sentAt: number[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #start = 0;
  #stopped = false;

  readonly onTick: (audioMs: number) => void;
  readonly #phaseMs: number;

  constructor(onTick: (audioMs: number) => void, phaseMs = 0) {
    this.onTick = onTick;
    this.#phaseMs = phaseMs;
  }

  start() {
    this.#start = performance.now() + this.#phaseMs;
    if (this.#phaseMs === 0) this.#tick();
    else this.#timer = setTimeout(this.#tick, this.#phaseMs);
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
