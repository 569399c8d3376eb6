/**
 * AudioWorklet processor for the microphone: resamples the context's rate (usually 48 kHz) to
 * 16 kHz and posts 20 ms frames of 16-bit PCM to the page. Runs on the audio thread.
 */
const OUT_RATE = 16_000;
const FRAME_SAMPLES = OUT_RATE / 50;

class MicProcessor extends AudioWorkletProcessor {
  #ratio = sampleRate / OUT_RATE;
  #position = 0;
  #frame = new Int16Array(FRAME_SAMPLES);
  #filled = 0;

  override process(inputs: Float32Array[][]): boolean {
    const input = inputs[0]?.[0];
    if (!input) return true;
    // Linear interpolation: good enough for speech at 16 kHz after the browser's own filtering.
    while (this.#position < input.length - 1) {
      const i = Math.floor(this.#position);
      const t = this.#position - i;
      const sample = (input[i] ?? 0) * (1 - t) + (input[i + 1] ?? 0) * t;
      this.#frame[this.#filled++] = Math.max(-32768, Math.min(32767, Math.round(sample * 32767)));
      if (this.#filled === FRAME_SAMPLES) {
        const out = this.#frame.buffer.slice(0);
        this.port.postMessage(out, [out]);
        this.#filled = 0;
      }
      this.#position += this.#ratio;
    }
    this.#position -= input.length;
    return true;
  }
}

registerProcessor("mic-processor", MicProcessor);
