/**
 * AudioWorklet processor for what the caller hears from the call: 16 kHz PCM16 frames in,
 * played at the context's rate with a jitter buffer and a proper interpolation filter
 * (playout.ts). Runs on the audio thread.
 */
import { type PlayerReport, Playout } from "./playout.ts";

export type PlayerInput = { pcm: ArrayBuffer; replyStart: boolean } | "clear";
export type { PlayerReport };

class PlayerProcessor extends AudioWorkletProcessor {
  readonly #playout = new Playout(sampleRate, (report) => this.port.postMessage(report));

  constructor() {
    super();
    this.port.onmessage = (event: MessageEvent<PlayerInput>) => {
      if (event.data === "clear") return this.#playout.clear();
      this.#playout.push(new Int16Array(event.data.pcm), event.data.replyStart);
    };
  }

  override process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const out = outputs[0]?.[0];
    if (out) this.#playout.render(out);
    return true;
  }
}

registerProcessor("player-processor", PlayerProcessor);
