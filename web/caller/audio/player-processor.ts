/**
 * AudioWorklet processor for the assistant's voice: 16 kHz PCM16 frames in, played at the
 * context's rate with a small jitter buffer so sentences follow each other without gaps.
 * "clear" drops everything queued at once (the caller spoke over the assistant).
 */
const IN_RATE = 16_000;
/** Wait for this much audio before starting, so network jitter does not cause gaps. */
const JITTER_SAMPLES = IN_RATE * 0.06;

class PlayerProcessor extends AudioWorkletProcessor {
  #queue: Float32Array[] = [];
  #offset = 0;
  #buffered = 0;
  #playing = false;
  #position = 0;
  #step = IN_RATE / sampleRate;

  constructor() {
    super();
    this.port.onmessage = (event: MessageEvent<ArrayBuffer | "clear">) => {
      if (event.data === "clear") {
        this.#queue = [];
        this.#buffered = 0;
        this.#offset = 0;
        this.#setPlaying(false);
        return;
      }
      const pcm = new Int16Array(event.data);
      const samples = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) samples[i] = (pcm[i] ?? 0) / 32768;
      this.#queue.push(samples);
      this.#buffered += samples.length;
    };
  }

  override process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const out = outputs[0]?.[0];
    if (!out) return true;
    if (!this.#playing && this.#buffered >= JITTER_SAMPLES) this.#setPlaying(true);
    for (let i = 0; i < out.length; i++) {
      const chunk = this.#queue[0];
      if (!this.#playing || !chunk) {
        out[i] = 0;
        continue;
      }
      out[i] = chunk[this.#offset] ?? 0;
      this.#position += this.#step;
      while (this.#position >= 1) {
        this.#position -= 1;
        this.#offset += 1;
        this.#buffered -= 1;
        if (this.#offset >= (this.#queue[0]?.length ?? 0)) {
          this.#queue.shift();
          this.#offset = 0;
        }
      }
    }
    if (this.#playing && this.#queue.length === 0) this.#setPlaying(false);
    return true;
  }

  #setPlaying(playing: boolean) {
    if (playing === this.#playing) return;
    this.#playing = playing;
    this.port.postMessage(playing ? "playing" : "idle");
  }
}

registerProcessor("player-processor", PlayerProcessor);
