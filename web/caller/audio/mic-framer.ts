/**
 * The microphone's path inside its worklet, as plain code: render quanta at the context's rate
 * in, 20 ms frames of 16 kHz PCM16 out, through the resampler's low-pass (nothing above 8 kHz
 * folds into the band the recogniser hears).
 */
import { Resampler } from "./resampler.ts";

export const CALL_RATE = 16_000;
/** 20 ms at 16 kHz. */
export const FRAME_SAMPLES = CALL_RATE / 50;

export class MicFramer {
  readonly #resampler: Resampler;
  #frame = new Int16Array(FRAME_SAMPLES);
  #filled = 0;

  /** `inRate`: the AudioContext's sample rate. */
  constructor(inRate: number) {
    this.#resampler = new Resampler(inRate, CALL_RATE);
  }

  /** One render quantum (any length); calls `onFrame` with each frame it completes. */
  push(input: Float32Array, onFrame: (frame: Int16Array<ArrayBuffer>) => void) {
    const out = this.#resampler.process(input);
    for (let i = 0; i < out.length; i++) {
      const sample = Math.round((out[i] ?? 0) * 32767);
      this.#frame[this.#filled++] = Math.max(-32768, Math.min(32767, sample));
      if (this.#filled === FRAME_SAMPLES) {
        onFrame(this.#frame);
        // A new array each time: the one handed over is transferred to the page.
        this.#frame = new Int16Array(FRAME_SAMPLES);
        this.#filled = 0;
      }
    }
  }
}
