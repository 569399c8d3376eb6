import { describe, expect, it } from "vitest";
import {
  DOWNSAMPLER_GROUP_DELAY,
  Downsampler2x,
  UPSAMPLER_GROUP_DELAY,
  Upsampler2x,
} from "../../voice/audio/resample.ts";
import { CallerToTelephony, TelephonyToCaller } from "../../voice/audio/telephony-codec.ts";
import { fitSine, type SineFit } from "../support/audio-checks.ts";

const IN_BAND_HZ = [300, 500, 1000, 2000, 3000, 3400];
const AMPLITUDE = 16_000; // about −6 dBFS
/** Samples skipped at the start of an output: the filter's 65-tap warm-up, with margin. */
const WARM_UP = 80;

function tone(hz: number, rate: number, samples: number, amplitude = AMPLITUDE): Int16Array {
  return Int16Array.from({ length: samples }, (_, n) =>
    Math.round(amplitude * Math.sin((2 * Math.PI * hz * n) / rate)),
  );
}

/** Runs `process` over `input` cut into `chunk`-sample pieces and joins the outputs. */
function chunked(
  process: (input: Int16Array) => Int16Array,
  input: Int16Array,
  chunk: number | (() => number),
): Int16Array {
  const parts: Int16Array[] = [];
  for (let at = 0; at < input.length; ) {
    const size = typeof chunk === "number" ? chunk : chunk();
    parts.push(process(input.subarray(at, at + size)));
    at += size;
  }
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Amplitude of the `hz` component of y[from…] (one DFT bin; whole cycles keep it exact). */
function amplitudeAt(y: Int16Array, hz: number, rate: number, from: number): number {
  const w = (2 * Math.PI * hz) / rate;
  let re = 0;
  let im = 0;
  for (let n = from; n < y.length; n++) {
    re += (y[n] ?? 0) * Math.cos(w * n);
    im -= (y[n] ?? 0) * Math.sin(w * n);
  }
  return (2 * Math.hypot(re, im)) / (y.length - from);
}

function rms(y: Int16Array, from: number): number {
  let sum = 0;
  for (let n = from; n < y.length; n++) sum += (y[n] ?? 0) ** 2;
  return Math.sqrt(sum / (y.length - from));
}

const db = (ratio: number) => 20 * Math.log10(ratio);

/**
 * How far, in samples, the fitted sine's lag is from `delay` (modulo a cycle): a sin input that
 * comes out as sin(ω(n − delay)) fits with phase −ω·delay.
 */
function lagError(fit: SineFit, hz: number, rate: number, delay: number): number {
  const cycle = rate / hz;
  const lag = (-fit.phase / (2 * Math.PI)) * cycle;
  return ((((lag - delay) % cycle) + 1.5 * cycle) % cycle) - cycle / 2;
}

/** Deterministic white noise over most of the int16 range. */
function noise(samples: number, seed: number): Int16Array {
  let state = seed;
  return Int16Array.from({ length: samples }, () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return (state >>> 16) - 32_768;
  });
}

describe("Downsampler2x (16 → 8 kHz)", () => {
  it.each(IN_BAND_HZ)("passes %i Hz with SNR ≥ 40 dB, flat within 0.6 dB", (hz) => {
    const down = new Downsampler2x();
    const out = chunked((x) => down.process(x), tone(hz, 16_000, 16_000), 320);
    expect(out).toHaveLength(8_000);
    const fit = fitSine(out, hz, 8_000, WARM_UP);
    expect(fit.snrDb).toBeGreaterThanOrEqual(40);
    expect(Math.abs(db(fit.amplitude / AMPLITUDE))).toBeLessThan(0.6);
  });

  it("delays by DOWNSAMPLER_GROUP_DELAY output samples at every frequency (linear phase)", () => {
    for (const hz of IN_BAND_HZ) {
      const down = new Downsampler2x();
      // Output n is centred on input sample 2n: no offset beyond the filter's own delay.
      const fit = fitSine(down.process(tone(hz, 16_000, 8_000)), hz, 8_000, WARM_UP);
      const error = lagError(fit, hz, 8_000, DOWNSAMPLER_GROUP_DELAY);
      expect(Math.abs(error), `${hz} Hz`).toBeLessThan(0.01);
    }
  });

  // 5 kHz would fold to 3 kHz; 4.1 kHz, just past the 8 kHz rate's limit, to 3.9 kHz.
  it.each([4_100, 4_400, 5_000, 6_000, 7_900])("rejects a %i Hz tone by ≥ 40 dB", (hz) => {
    const input = tone(hz, 16_000, 16_000);
    const down = new Downsampler2x();
    const out = chunked((x) => down.process(x), input, 320);
    expect(db(rms(out, WARM_UP) / rms(input, 0))).toBeLessThanOrEqual(-40);
  });

  it("gives exactly the one-shot output whatever the chunking, odd sizes included", () => {
    const input = noise(9_001, 7);
    const whole = new Downsampler2x().process(input);
    expect(whole).toHaveLength(4_501);
    for (const chunk of [320, 1, 3, 161]) {
      const down = new Downsampler2x();
      expect(
        chunked((x) => down.process(x), input, chunk),
        `chunks of ${chunk}`,
      ).toEqual(whole);
    }
    let state = 1;
    const sizes = () => {
      state = (state * 48_271) % 2_147_483_647;
      return state % 400; // 0 … 399, empty calls too
    };
    const down = new Downsampler2x();
    expect(chunked((x) => down.process(x), input, sizes)).toEqual(whole);
  });

  it("clamps full scale instead of wrapping, and writes into a given buffer", () => {
    const square = Int16Array.from({ length: 3_200 }, (_, n) => (n % 320 < 160 ? 32_767 : -32_768));
    const down = new Downsampler2x();
    const out = new Int16Array(1_600);
    expect(down.process(square, out)).toBe(out);
    expect(Math.max(...out)).toBe(32_767); // the filter's overshoot was clamped…
    expect(Math.min(...out.subarray(WARM_UP))).toBe(-32_768);
    for (let n = WARM_UP; n < out.length; n++) {
      // …not wrapped: away from each edge, the sign follows the (delayed) input.
      const phase = (2 * (n - DOWNSAMPLER_GROUP_DELAY) + 320) % 320;
      if (phase > 12 && phase < 148) expect(out[n], `n ${n}`).toBeGreaterThan(30_000);
      if (phase > 172 && phase < 308) expect(out[n], `n ${n}`).toBeLessThan(-30_000);
    }
  });
});

describe("Upsampler2x (8 → 16 kHz)", () => {
  it.each(IN_BAND_HZ)("passes %i Hz with SNR ≥ 40 dB, flat within 0.6 dB", (hz) => {
    const up = new Upsampler2x();
    const out = chunked((x) => up.process(x), tone(hz, 8_000, 8_000), 160);
    expect(out).toHaveLength(16_000);
    const fit = fitSine(out, hz, 16_000, 2 * WARM_UP);
    expect(fit.snrDb).toBeGreaterThanOrEqual(40);
    expect(Math.abs(db(fit.amplitude / AMPLITUDE))).toBeLessThan(0.6);
  });

  it("delays by UPSAMPLER_GROUP_DELAY output samples at every frequency (linear phase)", () => {
    for (const hz of IN_BAND_HZ) {
      const fit = fitSine(new Upsampler2x().process(tone(hz, 8_000, 4_000)), hz, 16_000, 160);
      const error = lagError(fit, hz, 16_000, UPSAMPLER_GROUP_DELAY);
      expect(Math.abs(error), `${hz} Hz`).toBeLessThan(0.01);
    }
  });

  it("suppresses the 5 kHz image of a 3 kHz tone by ≥ 40 dB", () => {
    const up = new Upsampler2x();
    const out = chunked((x) => up.process(x), tone(3_000, 8_000, 8_000), 160);
    // 16 000 − 160 samples from 160 on: whole cycles of both 3 and 5 kHz, so no leakage.
    const wanted = amplitudeAt(out, 3_000, 16_000, 160);
    const image = amplitudeAt(out, 5_000, 16_000, 160);
    expect(db(wanted / AMPLITUDE)).toBeGreaterThan(-0.6);
    expect(db(image / wanted)).toBeLessThanOrEqual(-40);
  });

  it.each([3_400, 3_600, 3_900])("keeps the image of %i Hz ≥ 40 dB below the input", (hz) => {
    const up = new Upsampler2x();
    const out = chunked((x) => up.process(x), tone(hz, 8_000, 8_000), 160);
    expect(db(amplitudeAt(out, 8_000 - hz, 16_000, 160) / AMPLITUDE)).toBeLessThanOrEqual(-40);
  });

  it("gives exactly the one-shot output whatever the chunking", () => {
    const input = noise(4_001, 11);
    const whole = new Upsampler2x().process(input);
    expect(whole).toHaveLength(8_002);
    for (const chunk of [160, 1, 3, 77]) {
      const up = new Upsampler2x();
      expect(
        chunked((x) => up.process(x), input, chunk),
        `chunks of ${chunk}`,
      ).toEqual(whole);
    }
  });

  it("clamps full scale instead of wrapping, and writes into a given buffer", () => {
    const square = Int16Array.from({ length: 1_600 }, (_, n) => (n % 160 < 80 ? 32_767 : -32_768));
    const up = new Upsampler2x();
    const out = new Int16Array(3_200);
    expect(up.process(square, out)).toBe(out);
    expect(Math.max(...out)).toBe(32_767);
    expect(Math.min(...out.subarray(2 * WARM_UP))).toBe(-32_768);
    for (let n = 2 * WARM_UP; n < out.length; n++) {
      const phase = (n - UPSAMPLER_GROUP_DELAY + 320) % 320;
      if (phase > 12 && phase < 148) expect(out[n], `n ${n}`).toBeGreaterThan(30_000);
      if (phase > 172 && phase < 308) expect(out[n], `n ${n}`).toBeLessThan(-30_000);
    }
  });
});

describe("telephony codec (caller PCM16LE 16 kHz ↔ Twilio μ-law 8 kHz)", () => {
  /**
   * 1 s of a tone near 1 kHz through both edges, in 20 ms frames. Detuned from 1000 Hz on
   * purpose: at 1000 Hz (8 samples a cycle at 8 kHz) μ-law's error repeats every cycle, lands
   * on the tone's own harmonics and partly in the fit, and the SNR reads an optimistic ~49 dB.
   */
  const HZ = 1_013;
  function roundTrip(): Int16Array {
    const input = tone(HZ, 16_000, 16_000);
    const bytes = new Uint8Array(input.buffer);
    const toTwilio = new CallerToTelephony();
    const toCaller = new TelephonyToCaller();
    const out = new Uint8Array(bytes.length);
    for (let at = 0; at < bytes.length; at += 640) {
      const mulaw = toTwilio.encode(bytes.subarray(at, at + 640));
      expect(mulaw).toHaveLength(160);
      const pcm = toCaller.decode(mulaw);
      expect(pcm).toHaveLength(640);
      out.set(pcm, at);
    }
    return new Int16Array(out.buffer);
  }

  it("keeps a 1 kHz tone's pitch and level (within 1 dB), SNR ≥ 30 dB", () => {
    const out = roundTrip();
    const from = 2 * WARM_UP + 2 * UPSAMPLER_GROUP_DELAY;
    let peakHz = 0;
    let peak = 0;
    for (let hz = 900; hz <= 1_100; hz++) {
      const a = amplitudeAt(out, hz, 16_000, from);
      if (a > peak) [peak, peakHz] = [a, hz];
    }
    expect(peakHz).toBe(HZ);
    const fit = fitSine(out, HZ, 16_000, from);
    expect(Math.abs(db(fit.amplitude / AMPLITUDE))).toBeLessThan(1);
    // μ-law's 8-bit logarithmic steps cap a sine's SNR near 38–40 dB at any level (40 dB here,
    // 37 dB at −18 dBFS); the resamplers' own error is 65 dB or more below the signal. 30 dB
    // is the floor with margin, so the test fails on a broken path, not on μ-law itself.
    expect(fit.snrDb).toBeGreaterThanOrEqual(30);
  });

  it("reads unaligned input the same as aligned, and writes into given buffers", () => {
    const bytes = new Uint8Array(tone(700, 16_000, 3_200).buffer);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const aligned = new CallerToTelephony();
    const unaligned = new CallerToTelephony();
    const back = new TelephonyToCaller();
    const backOdd = new TelephonyToCaller();
    const oddOut = new Uint8Array(641);
    for (let at = 0; at < bytes.length; at += 640) {
      const expected = aligned.encode(bytes.subarray(at, at + 640));
      const codes = new Uint8Array(160);
      expect(unaligned.encode(shifted.subarray(at + 1, at + 641), codes)).toEqual(expected);
      expect(backOdd.decode(codes, oddOut.subarray(1))).toEqual(back.decode(expected));
    }
  });

  it("refuses a half sample", () => {
    expect(() => new CallerToTelephony().encode(new Uint8Array(641))).toThrow(RangeError);
  });
});
