/**
 * AudioWorklet processor for the assistant's voice: 16 kHz PCM16 frames in, played at the
 * context's rate with a small jitter buffer so sentences follow each other without gaps.
 * A frame may mark the start of a reply: the processor says when that reply starts playing, and
 * on "clear" (the caller spoke over it) drops everything queued at once and says how much of the
 * current reply was played — the server keeps only that part in the conversation.
 */
const IN_RATE = 16_000;
/** Wait for this much audio before starting, so network jitter does not cause gaps. */
const JITTER_SAMPLES = IN_RATE * 0.06;

export type PlayerInput = { pcm: ArrayBuffer; replyStart: boolean } | "clear";
export type PlayerReport =
  | { type: "playing" | "idle" }
  | { type: "reply_started" }
  | { type: "cleared"; playedMs: number };

interface Chunk {
  samples: Float32Array;
  replyStart: boolean;
}

class PlayerProcessor extends AudioWorkletProcessor {
  #queue: Chunk[] = [];
  #offset = 0;
  #buffered = 0;
  #playing = false;
  #position = 0;
  #step = IN_RATE / sampleRate;
  /** Input samples of the current reply played so far. */
  #replyPlayed = 0;

  constructor() {
    super();
    this.port.onmessage = (event: MessageEvent<PlayerInput>) => {
      if (event.data === "clear") {
        this.#queue = [];
        this.#buffered = 0;
        this.#offset = 0;
        this.#report({
          type: "cleared",
          playedMs: Math.round(this.#replyPlayed / (IN_RATE / 1000)),
        });
        this.#replyPlayed = 0;
        this.#setPlaying(false);
        return;
      }
      const pcm = new Int16Array(event.data.pcm);
      const samples = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) samples[i] = (pcm[i] ?? 0) / 32768;
      this.#queue.push({ samples, replyStart: event.data.replyStart });
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
      if (this.#offset === 0 && chunk.replyStart) {
        chunk.replyStart = false;
        this.#replyPlayed = 0;
        this.#report({ type: "reply_started" });
      }
      out[i] = chunk.samples[this.#offset] ?? 0;
      this.#position += this.#step;
      while (this.#position >= 1) {
        this.#position -= 1;
        this.#offset += 1;
        this.#buffered -= 1;
        this.#replyPlayed += 1;
        if (this.#offset >= (this.#queue[0]?.samples.length ?? 0)) {
          this.#queue.shift();
          this.#offset = 0;
        }
      }
    }
    if (this.#playing && this.#queue.length === 0) this.#setPlaying(false);
    return true;
  }

  #report(report: PlayerReport) {
    this.port.postMessage(report);
  }

  #setPlaying(playing: boolean) {
    if (playing === this.#playing) return;
    this.#playing = playing;
    this.#report({ type: playing ? "playing" : "idle" });
  }
}

registerProcessor("player-processor", PlayerProcessor);
