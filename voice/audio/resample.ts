/**
 * Streaming 2:1 resamplers between the caller's 16 kHz and the telephone network's 8 kHz.
 * Both use one linear-phase low-pass, a Kaiser-windowed sinc designed for telephone speech:
 * within 0.03 dB to 3 kHz, −0.5 dB at 3.4 kHz, ≥ 47.9 dB down from 4 kHz (where 8 kHz sampling
 * folds) and ≥ 61 dB from 5 kHz. Each object carries its filter history across calls, so a
 * stream cut into 20 ms frames gives exactly the samples it would give in one piece; keep one
 * object per call and direction.
 *
 * The filters run polyphase (only the samples that are kept, or that are not stuffed zeros, are
 * computed) and fold the symmetric taps, so each output sample costs about TAPS / 4 multiplies
 * (up) or TAPS / 2 (down). Arithmetic is in float64; outputs are rounded and clamped to int16.
 */

/** Taps of the 16 kHz low-pass. Odd, and TAPS − 1 a multiple of 4, so both delays are whole. */
const TAPS = 65;
/** −6 dB point, between the 3.4 kHz pass-band edge and the 4 kHz fold. */
const CUTOFF_HZ = 3650;
/** Kaiser β: trades stop-band depth against transition width for this length. */
const KAISER_BETA = 4.2;
const RATE_HZ = 16_000;

/** Input samples the filter needs before the newest one. */
const HISTORY = TAPS - 1;
/** Each polyphase branch of the upsampler spans HISTORY / 2 + 1 input samples. */
const UP_HISTORY = HISTORY / 2;

/** Group delay of Downsampler2x, in its output (8 kHz) samples: 16 = 2 ms. */
export const DOWNSAMPLER_GROUP_DELAY = HISTORY / 4;
/** Group delay of Upsampler2x, in its output (16 kHz) samples: 32 = 2 ms. */
export const UPSAMPLER_GROUP_DELAY = HISTORY / 2;

/** Modified Bessel function of the first kind, order 0: the Kaiser window's kernel. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50 && term > sum * 1e-17; k++) {
    term *= q / (k * k);
    sum += term;
  }
  return sum;
}

/** The low-pass at 16 kHz, normalised to unity gain at DC. */
function designLowPass(): Float64Array {
  const taps = new Float64Array(TAPS);
  const centre = HISTORY / 2;
  const fc = CUTOFF_HZ / RATE_HZ;
  const norm = besselI0(KAISER_BETA);
  let sum = 0;
  for (let n = 0; n < TAPS; n++) {
    const t = n - centre;
    const sinc = t === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * t) / (Math.PI * t);
    const r = t / centre;
    const h = (sinc * besselI0(KAISER_BETA * Math.sqrt(1 - r * r))) / norm;
    taps[n] = h;
    sum += h;
  }
  for (let n = 0; n < TAPS; n++) taps[n] = (taps[n] ?? 0) / sum;
  return taps;
}

const LOW_PASS = designLowPass();
/** Even taps ×2 (gain 2 restores the level that zero-stuffing halves): UP_HISTORY + 1 of them. */
const UP_EVEN = LOW_PASS.filter((_, n) => n % 2 === 0).map((h) => 2 * h);
/** Odd taps ×2: UP_HISTORY of them. */
const UP_ODD = LOW_PASS.filter((_, n) => n % 2 === 1).map((h) => 2 * h);

/** Clamps, because an Int16Array store wraps: overshoot past full scale would flip the sign. */
function toInt16(acc: number): number {
  return Math.min(32767, Math.max(-32768, Math.round(acc)));
}

/**
 * Grows `buf` (keeping its first `keep` values) so it holds `keep + more`; returns it unchanged
 * when it already does, which is every call once a stream's frame size has been seen.
 */
function ensureCapacity(buf: Float64Array, keep: number, more: number): Float64Array {
  if (buf.length >= keep + more) return buf;
  const grown = new Float64Array(keep + more);
  grown.set(buf.subarray(0, keep));
  return grown;
}

/**
 * 16 kHz → 8 kHz: low-pass, then keep every other sample. Input of any length, odd included;
 * the decimation phase carries over, so `outputLength` says how many samples a call gives.
 */
export class Downsampler2x {
  /** HISTORY past samples, then the current call's input. */
  #buf: Float64Array = new Float64Array(HISTORY + 320);
  /**
   * Index in #buf of the newest input sample under the next output's window: HISTORY or
   * HISTORY + 1, as the decimation phase left it after an odd-length call.
   */
  #next = HISTORY;

  /** Output samples that `process` will give for `inputLength` input samples. */
  outputLength(inputLength: number): number {
    return Math.max(0, Math.ceil((HISTORY + inputLength - this.#next) / 2));
  }

  /** Resamples one block; writes into `out` when given (at least `outputLength` long). */
  process(input: Int16Array, out?: Int16Array): Int16Array {
    const m = input.length;
    const n = this.outputLength(m);
    const result = out ?? new Int16Array(n);
    if (result.length < n) throw new RangeError(`resample: output holds ${result.length} < ${n}`);
    const buf = ensureCapacity(this.#buf, HISTORY, m);
    this.#buf = buf;
    buf.set(input, HISTORY);
    const end = HISTORY + m;
    const first = this.#next;
    decimate(LOW_PASS, buf, first - HISTORY, n, result);
    this.#next = first + 2 * n - m;
    buf.copyWithin(0, m, end);
    return result.length === n ? result : result.subarray(0, n);
  }
}

/**
 * 8 kHz → 16 kHz: zero-stuff, then low-pass with gain 2, computed as two polyphase branches
 * (even and odd output samples) so the stuffed zeros are never multiplied. Two outputs per input.
 */
export class Upsampler2x {
  /** UP_HISTORY past samples, then the current call's input. */
  #buf: Float64Array = new Float64Array(UP_HISTORY + 160);

  /** Resamples one block; writes into `out` when given (at least 2 × input length). */
  process(input: Int16Array, out?: Int16Array): Int16Array {
    const m = input.length;
    const n = 2 * m;
    const result = out ?? new Int16Array(n);
    if (result.length < n) throw new RangeError(`resample: output holds ${result.length} < ${n}`);
    const buf = ensureCapacity(this.#buf, UP_HISTORY, m);
    this.#buf = buf;
    buf.set(input, UP_HISTORY);
    interpolate(UP_EVEN, UP_ODD, buf, m, result);
    buf.copyWithin(0, m, UP_HISTORY + m);
    return result.length === n ? result : result.subarray(0, n);
  }
}

/*
 * The two kernels below are the hot loops. Both pair the two x values that share a tap of the
 * symmetric filter (one multiply per pair) and work four outputs at a time: independent sums
 * hide the floating-point add latency a single running sum would wait on, and each tap is
 * loaded once for four outputs. Their strides are literals on purpose: with the stride passed
 * as a parameter, V8's code ran 1.2–1.7× slower. Every output is summed in the same order wherever it
 * falls in a block (the tail loops repeat the block's order), so results never depend on how a
 * stream was cut into calls.
 */

/** out[j] = Σ taps[k] · x[start + 2j + k] for j < count, rounded and clamped; `taps` odd-length. */
function decimate(
  taps: Float64Array,
  x: Float64Array,
  start: number,
  count: number,
  out: Int16Array,
): void {
  const last = taps.length - 1;
  const half = taps.length >> 1;
  const centre = taps[half] ?? 0;
  let j = 0;
  for (; j + 3 < count; j += 4) {
    const b = start + 2 * j;
    let a0 = centre * (x[b + half] ?? 0);
    let a1 = centre * (x[b + 2 + half] ?? 0);
    let a2 = centre * (x[b + 4 + half] ?? 0);
    let a3 = centre * (x[b + 6 + half] ?? 0);
    for (let k = 0; k < half; k++) {
      const h = taps[k] ?? 0;
      const lo = b + k;
      const hi = b + last - k;
      a0 += h * ((x[lo] ?? 0) + (x[hi] ?? 0));
      a1 += h * ((x[lo + 2] ?? 0) + (x[hi + 2] ?? 0));
      a2 += h * ((x[lo + 4] ?? 0) + (x[hi + 4] ?? 0));
      a3 += h * ((x[lo + 6] ?? 0) + (x[hi + 6] ?? 0));
    }
    out[j] = toInt16(a0);
    out[j + 1] = toInt16(a1);
    out[j + 2] = toInt16(a2);
    out[j + 3] = toInt16(a3);
  }
  for (; j < count; j++) {
    const b = start + 2 * j;
    let a = centre * (x[b + half] ?? 0);
    for (let k = 0; k < half; k++) a += (taps[k] ?? 0) * ((x[b + k] ?? 0) + (x[b + last - k] ?? 0));
    out[j] = toInt16(a);
  }
}

/**
 * For i < count: out[2i] = Σ even[k] · x[i + k] and out[2i + 1] = Σ odd[k] · x[i + 1 + k], rounded
 * and clamped. `odd` has an even length L and `even` L + 1 taps, so both branches end on the same
 * newest sample: they share the far sample of each pair (x[i + L − k]) and neighbouring outputs
 * share the near ones, so one pass loads each x value once for all eight sums.
 */
function interpolate(
  even: Float64Array,
  odd: Float64Array,
  x: Float64Array,
  count: number,
  out: Int16Array,
): void {
  const span = odd.length;
  const half = span >> 1;
  const centre = even[half] ?? 0;
  let i = 0;
  for (; i + 3 < count; i += 4) {
    let e0 = centre * (x[i + half] ?? 0);
    let e1 = centre * (x[i + 1 + half] ?? 0);
    let e2 = centre * (x[i + 2 + half] ?? 0);
    let e3 = centre * (x[i + 3 + half] ?? 0);
    let o0 = 0;
    let o1 = 0;
    let o2 = 0;
    let o3 = 0;
    for (let k = 0; k < half; k++) {
      const g = even[k] ?? 0;
      const f = odd[k] ?? 0;
      const lo = i + k;
      const hi = i + span - k;
      const l0 = x[lo] ?? 0;
      const l1 = x[lo + 1] ?? 0;
      const l2 = x[lo + 2] ?? 0;
      const l3 = x[lo + 3] ?? 0;
      const l4 = x[lo + 4] ?? 0;
      const r0 = x[hi] ?? 0;
      const r1 = x[hi + 1] ?? 0;
      const r2 = x[hi + 2] ?? 0;
      const r3 = x[hi + 3] ?? 0;
      e0 += g * (l0 + r0);
      e1 += g * (l1 + r1);
      e2 += g * (l2 + r2);
      e3 += g * (l3 + r3);
      o0 += f * (l1 + r0);
      o1 += f * (l2 + r1);
      o2 += f * (l3 + r2);
      o3 += f * (l4 + r3);
    }
    const o = 2 * i;
    out[o] = toInt16(e0);
    out[o + 1] = toInt16(o0);
    out[o + 2] = toInt16(e1);
    out[o + 3] = toInt16(o1);
    out[o + 4] = toInt16(e2);
    out[o + 5] = toInt16(o2);
    out[o + 6] = toInt16(e3);
    out[o + 7] = toInt16(o3);
  }
  for (; i < count; i++) {
    let e = centre * (x[i + half] ?? 0);
    let o = 0;
    for (let k = 0; k < half; k++) {
      const r = x[i + span - k] ?? 0;
      e += (even[k] ?? 0) * ((x[i + k] ?? 0) + r);
      o += (odd[k] ?? 0) * ((x[i + k + 1] ?? 0) + r);
    }
    out[2 * i] = toInt16(e);
    out[2 * i + 1] = toInt16(o);
  }
}
