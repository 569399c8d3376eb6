/**
 * Streaming sample-rate conversion for the page's audio worklets: the microphone from the
 * AudioContext's rate (44.1 or 48 kHz, whatever the device runs at) down to the call's 16 kHz,
 * and the assistant's 16 kHz up to the context's rate.
 *
 * One design both ways: a Kaiser-windowed sinc low-pass, evaluated polyphase at the exact
 * rational ratio of the two rates (48 k : 16 k is 3 : 1, one phase; 44.1 k : 16 k is 441 : 160).
 * The low-pass is set by the 16 kHz side: flat to 6.8 kHz (speech keeps its consonants for the
 * recogniser), ≥ 75 dB down from 8 kHz, where 16 kHz sampling folds — so going down nothing above
 * 8 kHz aliases into the band, and going up the images of the 16 kHz spectrum are removed.
 * voice/audio/resample.ts has the same kind of filter, but for the telephone's 16 k ↔ 8 k at
 * 2 : 1 with a 3.65 kHz cut-off: neither its ratio nor its band fits here.
 *
 * Each object carries its history across calls, so a stream cut into 128-sample render quanta
 * gives exactly the samples it would give in one piece. Output sample n is the input's value at
 * time n × inRate / outRate (zero phase): the filter's delay shows only as latency, ~2 ms.
 */

/** Stop-band attenuation the window is designed for. */
const STOP_BAND_DB = 75;
/** Pass band, as a share of the lower rate's Nyquist frequency (6.8 kHz for 16 kHz). */
const PASS_EDGE = 0.85;
/** Stop band from the lower rate's Nyquist frequency: nothing folds back. */
const STOP_EDGE = 1;
/** Beyond this many phases (odd rate pairs) the nearest of this many is used. */
const MAX_PHASES = 4096;

/** Kaiser's β for a stop band of `db` decibels. */
function kaiserBeta(db: number): number {
  return db > 50 ? 0.1102 * (db - 8.7) : 0.5842 * (db - 21) ** 0.4 + 0.07886 * (db - 21);
}

/** Modified Bessel function of the first kind, order 0: the Kaiser window's kernel. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 60 && term > sum * 1e-17; k++) {
    term *= q / (k * k);
    sum += term;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export class Resampler {
  readonly inRate: number;
  readonly outRate: number;
  /** Input samples on each side of an output's instant that its taps span. */
  readonly #half: number;
  /** Taps per output: 2 × #half. */
  readonly #width: number;
  /** One row of #width taps per phase. */
  readonly #taps: Float32Array;
  readonly #phases: number;
  /** Whole input samples per output step, and the remaining fraction in phases. */
  readonly #stepWhole: number;
  readonly #stepPhases: number;
  /** Pending input: the history the next output needs, then what has not been used yet. */
  #buf: Float32Array;
  #len = 0;
  /** Index in #buf of the first sample under the next output's taps, and its phase. */
  #pos = 0;
  #phase = 0;
  #out = new Float32Array(0);

  constructor(inRate: number, outRate: number) {
    this.inRate = Math.round(inRate);
    this.outRate = Math.round(outRate);
    if (!(this.inRate > 0 && this.outRate > 0)) throw new RangeError("resampler: bad rates");
    const divisor = gcd(this.inRate, this.outRate);
    let phases = this.outRate / divisor;
    let inputsPerCycle = this.inRate / divisor;
    if (phases > MAX_PHASES) {
      // An unusual pair of rates: the ratio rounded to MAX_PHASES steps (≤ 0.01 % off).
      inputsPerCycle = Math.round((this.inRate / this.outRate) * MAX_PHASES);
      phases = MAX_PHASES;
    }
    this.#phases = phases;
    this.#stepWhole = Math.floor(inputsPerCycle / phases);
    this.#stepPhases = inputsPerCycle % phases;

    const nyquist = Math.min(this.inRate, this.outRate) / 2;
    const transitionHz = (STOP_EDGE - PASS_EDGE) * nyquist;
    // Kaiser's length estimate, in seconds, so it holds at either rate.
    const spanSeconds = (STOP_BAND_DB - 8) / (2.285 * 2 * Math.PI * transitionHz);
    this.#half = Math.max(2, Math.ceil((spanSeconds / 2) * this.inRate));
    this.#width = 2 * this.#half;
    this.#taps = designTaps(
      phases,
      this.#half,
      (((PASS_EDGE + STOP_EDGE) / 2) * nyquist) / this.inRate,
      kaiserBeta(STOP_BAND_DB),
    );
    this.#buf = new Float32Array(this.#width + 1024);
    this.reset();
  }

  /** Taps per output sample (the cost of one output, in multiplies). */
  get taps(): number {
    return this.#width;
  }

  /** Forgets the history: the next input starts a new stream (after silence, or a clear). */
  reset() {
    // Zeros before the first sample, so output 0 sits at input 0.
    this.#buf.fill(0, 0, this.#half - 1);
    this.#len = this.#half - 1;
    this.#pos = 0;
    this.#phase = 0;
  }

  /**
   * Resamples one block. The result is a view of an internal buffer, valid until the next call.
   * Its length varies by one from call to call as the fractional step carries over.
   */
  process(input: Float32Array): Float32Array {
    if (this.#len + input.length > this.#buf.length) {
      const grown = new Float32Array(this.#len + input.length + 1024);
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(input, this.#len);
    this.#len += input.length;
    const most =
      Math.ceil(
        ((this.#len - this.#pos) * this.#phases) /
          (this.#stepWhole * this.#phases + this.#stepPhases),
      ) + 1;
    if (this.#out.length < most) this.#out = new Float32Array(most + 64);
    const buf = this.#buf;
    const taps = this.#taps;
    const width = this.#width;
    let pos = this.#pos;
    let phase = this.#phase;
    let n = 0;
    while (pos + width <= this.#len) {
      const row = phase * width;
      let acc = 0;
      for (let i = 0; i < width; i++) acc += (taps[row + i] ?? 0) * (buf[pos + i] ?? 0);
      this.#out[n++] = acc;
      pos += this.#stepWhole;
      phase += this.#stepPhases;
      if (phase >= this.#phases) {
        phase -= this.#phases;
        pos += 1;
      }
    }
    // Keep only what later outputs still need.
    const keep = Math.min(pos, this.#len);
    buf.copyWithin(0, keep, this.#len);
    this.#len -= keep;
    this.#pos = pos - keep;
    this.#phase = phase;
    return this.#out.subarray(0, n);
  }
}

/**
 * The taps of every phase: row p holds, for the output p / phases of an input sample after
 * the newest sample before it, the windowed sinc at each of the 2 × half inputs around it. Each
 * row is normalised to unit gain at DC, so no phase is louder than another (no modulation).
 */
function designTaps(phases: number, half: number, cutoff: number, beta: number): Float32Array {
  const width = 2 * half;
  const taps = new Float32Array(phases * width);
  const norm = besselI0(beta);
  for (let p = 0; p < phases; p++) {
    const frac = p / phases;
    let sum = 0;
    const row = new Float64Array(width);
    for (let j = 0; j < width; j++) {
      // Distance in input samples from the output's instant to this tap's input sample.
      const d = frac + half - 1 - j;
      const x = 2 * cutoff * d;
      const sinc = d === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const r = d / half;
      const window = Math.abs(r) >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - r * r)) / norm;
      const h = 2 * cutoff * sinc * window;
      row[j] = h;
      sum += h;
    }
    for (let j = 0; j < width; j++) taps[p * width + j] = (row[j] ?? 0) / sum;
  }
  return taps;
}
