/**
 * AudioWorklet processor for the microphone: resamples the context's rate (usually 48 kHz) to
 * 16 kHz through a proper low-pass (mic-framer.ts) and posts 20 ms frames of 16-bit PCM to the
 * page. Runs on the audio thread.
 */
import { MicFramer } from "./mic-framer.ts";

class MicProcessor extends AudioWorkletProcessor {
  readonly #framer = new MicFramer(sampleRate);

  override process(inputs: Float32Array[][]): boolean {
    const input = inputs[0]?.[0];
    if (!input) return true;
    this.#framer.push(input, (frame) => this.port.postMessage(frame.buffer, [frame.buffer]));
    return true;
  }
}

registerProcessor("mic-processor", MicProcessor);
