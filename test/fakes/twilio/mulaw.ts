/**
 * G.711 μ-law, the fake's own copy (a fake must not share the app's codec, or a bug in one
 * would hide in both), and the tone the fake's human speaks. Audio on a Twilio Media Stream is
 * raw μ-law at 8 kHz, mono, one byte a sample, no header.
 */

export const SAMPLE_RATE = 8000;
/** Twilio sends 20 ms of audio per `media` message: 160 μ-law bytes. */
export const FRAME_MS = 20;
export const FRAME_BYTES = (SAMPLE_RATE * FRAME_MS) / 1000;
/** μ-law for a sample of 0: what a silent line carries. */
export const MULAW_SILENCE = 0xff;

const BIAS = 0x84;
const CLIP = 32635;

/** One 16-bit linear sample to its μ-law byte. */
export function encodeMulawSample(sample: number): number {
  let pcm = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = pcm < 0 ? 0x80 : 0;
  if (sign) pcm = -pcm;
  pcm = Math.min(pcm, CLIP) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (pcm & mask) === 0 && exponent > 0; mask >>= 1) exponent -= 1;
  const mantissa = (pcm >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** One μ-law byte to its 16-bit linear sample. */
export function decodeMulawSample(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + BIAS) << exponent) - BIAS;
  return u & 0x80 ? -magnitude : magnitude;
}

export function encodeMulaw(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = encodeMulawSample(pcm[i] ?? 0);
  return out;
}

/** μ-law bytes to 16-bit little-endian PCM at the same 8 kHz. */
export function decodeMulawToPcm16le(mulaw: Uint8Array): Buffer {
  const out = Buffer.alloc(mulaw.length * 2);
  for (let i = 0; i < mulaw.length; i++) out.writeInt16LE(decodeMulawSample(mulaw[i] ?? 0), i * 2);
  return out;
}

export interface Tone {
  hz: number;
  ms: number;
  /** 0..1 of full scale. */
  amplitude: number;
}

/**
 * A sine that keeps its phase across the frames it is cut into, so the human's voice has no
 * clicks at 20 ms boundaries.
 */
export class ToneSource {
  readonly totalSamples: number;
  #written = 0;
  readonly #step: number;
  readonly #peak: number;

  constructor(tone: Tone) {
    this.totalSamples = Math.round((tone.ms * SAMPLE_RATE) / 1000);
    this.#step = (2 * Math.PI * tone.hz) / SAMPLE_RATE;
    this.#peak = Math.max(0, Math.min(1, tone.amplitude)) * 32767;
  }

  get done(): boolean {
    return this.#written >= this.totalSamples;
  }

  /** Writes up to `count` μ-law samples into `frame` from `offset`; returns how many. */
  fill(frame: Uint8Array, offset: number, count: number): number {
    const n = Math.min(count, this.totalSamples - this.#written);
    for (let i = 0; i < n; i++) {
      const sample = this.#peak * Math.sin(this.#step * (this.#written + i));
      frame[offset + i] = encodeMulawSample(sample);
    }
    this.#written += n;
    return n;
  }
}
