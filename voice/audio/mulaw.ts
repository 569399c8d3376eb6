/**
 * G.711 μ-law, the codec of a Twilio Media Stream: 8-bit codes for 16-bit linear PCM. The
 * encoder is the classic 16-bit form of G.711 (bias 0x84, clip 32635, codes bit-inverted, no
 * MIL-STD zero trap), so code 0x00 is a real sample and 0 encodes as 0xFF.
 */

/** Added before segmenting so that the 8 segments double in width from the first one. */
const BIAS = 0x84;
/** Largest magnitude that still fits the top segment once BIAS is added (32635 + 132 = 32767). */
const CLIP = 32635;

const DECODE_TABLE = buildDecodeTable();

function buildDecodeTable(): Int16Array {
  const table = new Int16Array(256);
  for (let code = 0; code < 256; code++) {
    const bits = ~code & 0xff;
    const exponent = (bits >> 4) & 0x07;
    const mantissa = bits & 0x0f;
    const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    table[code] = bits & 0x80 ? -magnitude : magnitude;
  }
  return table;
}

/** One 16-bit sample (fractions truncated) to its μ-law code. */
export function encodeMulawSample(s: number): number {
  let magnitude = s | 0;
  let sign = 0;
  if (magnitude < 0) {
    magnitude = -magnitude;
    sign = 0x80;
  }
  if (magnitude > CLIP) magnitude = CLIP;
  magnitude += BIAS;
  // magnitude is now in [132, 32767], its top bit at 7..14: that bit's position is the segment.
  const exponent = 24 - Math.clz32(magnitude);
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** One μ-law code (only its low 8 bits count) to its 16-bit sample. */
export function decodeMulawSample(code: number): number {
  return DECODE_TABLE[code & 0xff] ?? 0;
}

/**
 * Encodes a block of samples. Writes into `out` when given (it must hold `pcm.length` codes)
 * so a per-frame caller can reuse one buffer; returns exactly `pcm.length` codes.
 */
export function encodeMulaw(pcm: Int16Array, out?: Uint8Array): Uint8Array {
  const n = pcm.length;
  const codes = out ?? new Uint8Array(n);
  if (codes.length < n) throw new RangeError(`mulaw: output holds ${codes.length} < ${n} codes`);
  for (let i = 0; i < n; i++) codes[i] = encodeMulawSample(pcm[i] ?? 0);
  return codes.length === n ? codes : codes.subarray(0, n);
}

/**
 * Decodes a block of codes. Writes into `out` when given (it must hold `codes.length` samples);
 * returns exactly `codes.length` samples.
 */
export function decodeMulaw(codes: Uint8Array, out?: Int16Array): Int16Array {
  const n = codes.length;
  const pcm = out ?? new Int16Array(n);
  if (pcm.length < n) throw new RangeError(`mulaw: output holds ${pcm.length} < ${n} samples`);
  const table = DECODE_TABLE;
  for (let i = 0; i < n; i++) pcm[i] = table[codes[i] ?? 0] ?? 0;
  return pcm.length === n ? pcm : pcm.subarray(0, n);
}
