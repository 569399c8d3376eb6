/**
 * The caller page's audio paths, measured: the microphone's worklet path (context rate → 16 kHz
 * frames) and the player's (16 kHz frames → context rate), both fed in 128-sample render quanta
 * as the browser does, at 48 kHz and 44.1 kHz. In-band tones must come through clean (SNR of
 * the fitted sine over everything else), tones above 8 kHz must not fold into the band, and the
 * player must not leave images of the voice above 8 kHz.
 */
import { describe, expect, it } from "vitest";
import { FRAME_SAMPLES, MicFramer } from "../../web/caller/audio/mic-framer.ts";
import { type PlayerReport, Playout } from "../../web/caller/audio/playout.ts";
import { Resampler } from "../../web/caller/audio/resampler.ts";
import { fitSine } from "../support/audio-checks.ts";

const RATES = [48_000, 44_100];
const IN_BAND_HZ = [300, 500, 1_000, 2_000, 3_000, 3_400];
/** Tones that 16 kHz sampling would fold into the band. */
const ABOVE_BAND_HZ = [8_200, 9_000, 11_000, 13_000, 15_000, 19_000];
const QUANTUM = 128;
const AMPLITUDE = 0.5; // −6 dBFS
/** Output samples skipped before measuring: the filter's warm-up, with margin. */
const SETTLE = 400;

function tone(hz: number, rate: number, samples: number): Float32Array {
  return Float32Array.from(
    { length: samples },
    (_, n) => AMPLITUDE * Math.sin((2 * Math.PI * hz * n) / rate),
  );
}

/** The microphone's path over `input`, in render quanta: the 16 kHz frames, joined. */
function micPath(input: Float32Array, rate: number): Float32Array {
  const framer = new MicFramer(rate);
  const out: number[] = [];
  for (let at = 0; at < input.length; at += QUANTUM) {
    framer.push(input.subarray(at, at + QUANTUM), (frame) => {
      expect(frame.length).toBe(FRAME_SAMPLES);
      for (const s of frame) out.push(s / 32767);
    });
  }
  return Float32Array.from(out);
}

/** The player's path: 20 ms frames of `input` (16 kHz) in, rendered in quanta at `rate`. */
function playerPath(input: Float32Array, rate: number, reports: PlayerReport[] = []) {
  const playout = new Playout(rate, (report) => reports.push(report));
  for (let at = 0; at < input.length; at += 320) {
    const frame = input.subarray(at, at + 320);
    playout.push(
      Int16Array.from(frame, (s) => Math.round(s * 32767)),
      at === 0,
    );
  }
  const out = new Float32Array(Math.ceil((input.length * rate) / 16_000 / QUANTUM + 8) * QUANTUM);
  for (let at = 0; at < out.length; at += QUANTUM) playout.render(out.subarray(at, at + QUANTUM));
  return out;
}

function rms(y: Float32Array, from: number): number {
  let sum = 0;
  for (let n = from; n < y.length; n++) sum += (y[n] ?? 0) ** 2;
  return Math.sqrt(sum / (y.length - from));
}

const db = (ratio: number) => 20 * Math.log10(ratio);

describe.each(RATES)("the microphone at %i Hz", (rate) => {
  it.each(IN_BAND_HZ)("passes a %i Hz tone with an SNR of at least 40 dB", (hz) => {
    const out = micPath(tone(hz, rate, rate), rate);
    expect(out.length).toBeGreaterThanOrEqual(16_000 - FRAME_SAMPLES);
    const fit = fitSine(out, hz, 16_000, SETTLE);
    expect(fit.snrDb).toBeGreaterThanOrEqual(40);
    // Flat in the band: within 0.1 dB.
    expect(Math.abs(db(fit.amplitude / AMPLITUDE))).toBeLessThan(0.1);
  });

  it.each(ABOVE_BAND_HZ)("rejects a %i Hz tone by at least 40 dB (no alias)", (hz) => {
    const out = micPath(tone(hz, rate, rate), rate);
    const rejection = -db(rms(out, SETTLE) / (AMPLITUDE / Math.SQRT2));
    expect(rejection).toBeGreaterThanOrEqual(40);
  });

  it("never drops a sample between render quanta (the old click train at 125 Hz)", () => {
    const input = tone(1_000, rate, rate / 2);
    const whole = new Resampler(rate, 16_000).process(input).slice();
    const quanta = new Resampler(rate, 16_000);
    const parts: number[] = [];
    for (let at = 0; at < input.length; at += QUANTUM) {
      parts.push(...quanta.process(input.subarray(at, at + QUANTUM)));
    }
    expect(parts.length).toBe(whole.length);
    expect(Math.max(...parts.map((v, i) => Math.abs(v - (whole[i] ?? 0))))).toBeLessThan(1e-6);
  });
});

describe.each(RATES)("the player at %i Hz", (rate) => {
  it.each(IN_BAND_HZ)("plays a %i Hz tone with an SNR of at least 40 dB, images included", (hz) => {
    const reports: PlayerReport[] = [];
    const out = playerPath(tone(hz, 16_000, 16_000), rate, reports);
    const end = Math.floor(rate * 0.98);
    const fit = fitSine(out, hz, rate, SETTLE * 3, end);
    expect(fit.snrDb).toBeGreaterThanOrEqual(40);
    expect(Math.abs(db(fit.amplitude / AMPLITUDE))).toBeLessThan(0.1);
    // The images a sample-repeating player leaves at 16 kHz ± f: at least 40 dB down.
    for (const image of [16_000 - hz, 16_000 + hz]) {
      const imageFit = fitSine(out, image, rate, SETTLE * 3, end);
      expect(-db(imageFit.amplitude / AMPLITUDE)).toBeGreaterThanOrEqual(40);
    }
    expect(reports.map((r) => r.type)).toEqual(["playing", "reply_started", "idle"]);
  });
});

describe("the player's reports", () => {
  it("says when a reply starts, and how much of it played when cleared", () => {
    const reports: PlayerReport[] = [];
    const playout = new Playout(48_000, (report) => reports.push(report));
    const quantum = new Float32Array(QUANTUM);
    // Half a second of a reply, in 20 ms frames.
    for (let i = 0; i < 25; i++) playout.push(new Int16Array(320).fill(1_000), i === 0);
    // 0.25 s played (93.75 quanta at 48 kHz).
    for (let i = 0; i < 94; i++) playout.render(quantum);
    playout.clear();
    expect(reports.map((r) => r.type)).toEqual(["playing", "reply_started", "cleared", "idle"]);
    const cleared = reports.find((r) => r.type === "cleared");
    expect(cleared?.type === "cleared" && cleared.playedMs).toBe(251);
    // Nothing left to play after the clear.
    playout.render(quantum);
    expect(Math.max(...quantum.map(Math.abs))).toBe(0);
  });

  it("waits for the jitter buffer, then goes idle when the audio runs out", () => {
    const reports: PlayerReport[] = [];
    const playout = new Playout(44_100, (report) => reports.push(report));
    const quantum = new Float32Array(QUANTUM);
    playout.push(new Int16Array(320).fill(1_000), false);
    playout.render(quantum);
    expect(reports).toEqual([]);
    playout.push(new Int16Array(320).fill(1_000), false);
    playout.push(new Int16Array(320).fill(1_000), false);
    for (let i = 0; i < 30; i++) playout.render(quantum);
    expect(reports.map((r) => r.type)).toEqual(["playing", "idle"]);
  });
});
