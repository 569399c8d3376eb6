/**
 * Measuring audio in the tests, with instruments of the test's own rather than hooks in the
 * page: a tap on everything the page sends to its speakers (level and spectral peaks), a tone WAV
 * for Chromium's fake microphone, the pitch and level of PCM heard at the far end, and a sine's
 * least-squares fit (amplitude, phase, SNR) for the resamplers' unit tests.
 */
import { writeFileSync } from "node:fs";

export interface SpeakerReading {
  /** RMS of the last ~170 ms played, 0–1 of full scale. */
  rms: number;
  /** The strongest spectral peaks (above -70 dBFS), strongest first. */
  peaks: { hz: number; db: number }[];
}

/**
 * For `page.addInitScript`: every connection to an AudioDestinationNode is also connected to an
 * analyser of the test's, which `window.speakerTap()` reads. Page code, so a string: the tests'
 * TypeScript has no DOM types.
 */
export const SPEAKER_TAP_SCRIPT = `(() => {
  const connect = AudioNode.prototype.connect;
  const taps = [];
  AudioNode.prototype.connect = function (target, ...rest) {
    const result = connect.call(this, target, ...rest);
    if (target instanceof AudioDestinationNode) {
      const tap = new AnalyserNode(target.context, { fftSize: 8192, smoothingTimeConstant: 0 });
      connect.call(this, tap);
      taps.push(tap);
    }
    return result;
  };
  window.speakerTap = () => {
    const tap = taps.at(-1);
    if (!tap) return null;
    const time = new Float32Array(tap.fftSize);
    tap.getFloatTimeDomainData(time);
    let sum = 0;
    for (const s of time) sum += s * s;
    const bins = new Float32Array(tap.frequencyBinCount);
    tap.getFloatFrequencyData(bins);
    const hzPerBin = tap.context.sampleRate / tap.fftSize;
    const peaks = [];
    for (let i = 2; i < bins.length - 1; i++) {
      const [a, b, c] = [bins[i - 1], bins[i], bins[i + 1]];
      if (b > -70 && b >= a && b > c) {
        // Parabolic interpolation between bins: a few Hz instead of the bin's ~6 Hz.
        const shift = (0.5 * (a - c)) / (a - 2 * b + c || 1);
        peaks.push({ hz: Math.round((i + shift) * hzPerBin), db: Math.round(b) });
      }
    }
    peaks.sort((x, y) => y.db - x.db);
    return { rms: Math.sqrt(sum / time.length), peaks: peaks.slice(0, 4) };
  };
})();`;

/** What the tap hears now; null before the page has any audio. */
export async function readSpeaker(page: {
  evaluate(expression: string): Promise<unknown>;
}): Promise<SpeakerReading | null> {
  const reading = await page.evaluate("window.speakerTap?.() ?? null");
  return isReading(reading) ? reading : null;
}

function isReading(value: unknown): value is SpeakerReading {
  return (
    typeof value === "object" &&
    value !== null &&
    "rms" in value &&
    typeof value.rms === "number" &&
    "peaks" in value &&
    Array.isArray(value.peaks)
  );
}

/** True when `reading` has a peak within `toleranceHz` of each of `hz`, among its strongest. */
export function hasPeaks(reading: SpeakerReading | null, hz: number[], toleranceHz = 15): boolean {
  return hz.every((f) => reading?.peaks.some((p) => Math.abs(p.hz - f) <= toleranceHz) ?? false);
}

/** A mono 16-bit WAV of a sine, for `--use-file-for-fake-audio-capture` (Chromium loops it). */
export function writeToneWav(
  path: string,
  { hz, seconds, sampleRate = 48_000, amplitude = 0.3 }: ToneFile,
) {
  const samples = new Float32Array(Math.round(seconds * sampleRate));
  for (let i = 0; i < samples.length; i++) {
    samples[i] = amplitude * Math.sin((2 * Math.PI * hz * i) / sampleRate);
  }
  writeWav(path, samples, sampleRate);
}

/** A mono 16-bit WAV of `samples` (−1…1). */
export function writeWav(path: string, samples: Float32Array, sampleRate: number) {
  const wav = Buffer.alloc(44 + samples.length * 2);
  wav.write("RIFF", 0, "ascii");
  wav.writeUInt32LE(36 + samples.length * 2, 4);
  wav.write("WAVEfmt ", 8, "ascii");
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(sampleRate, 24);
  wav.writeUInt32LE(sampleRate * 2, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write("data", 36, "ascii");
  wav.writeUInt32LE(samples.length * 2, 40);
  for (let i = 0; i < samples.length; i++) {
    wav.writeInt16LE(Math.round(Math.max(-1, Math.min(1, samples[i] ?? 0)) * 32767), 44 + i * 2);
  }
  writeFileSync(path, wav);
}

export interface ToneFile {
  hz: number;
  seconds: number;
  sampleRate?: number;
  /** 0–1 of full scale. */
  amplitude?: number;
}

/** PCM16LE bytes (e.g. the fake Twilio's record of what the human heard) to samples. */
export function pcm16(bytes: Buffer): Int16Array {
  const samples = new Int16Array(bytes.length >> 1);
  for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
  return samples;
}

/** RMS of the samples, 0–1 of full scale. */
export function rmsOf(samples: Int16Array): number {
  let sum = 0;
  for (const s of samples) sum += (s / 32768) ** 2;
  return samples.length === 0 ? 0 : Math.sqrt(sum / samples.length);
}

/**
 * The strongest frequency between `fromHz` and `toHz`, by a Goertzel scan in `stepHz` steps:
 * plain and exact enough for a test tone in telephone audio.
 */
export function dominantHz(
  samples: Int16Array,
  sampleRate: number,
  { fromHz = 100, toHz = 3_500, stepHz = 2 } = {},
): number {
  let best = { hz: 0, power: -1 };
  for (let hz = fromHz; hz <= toHz; hz += stepHz) {
    const coefficient = 2 * Math.cos((2 * Math.PI * hz) / sampleRate);
    let [s1, s2] = [0, 0];
    for (const sample of samples) {
      const s0 = sample / 32768 + coefficient * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
    if (power > best.power) best = { hz, power };
  }
  return best.hz;
}

export interface SineFit {
  amplitude: number;
  /** Phase of the fitted sin(ωn + phase), in radians. */
  phase: number;
  /** Power of the fitted sine over the power of what is left, in dB. */
  snrDb: number;
}

/** Least-squares fit of a·sin(ωn) + b·cos(ωn) to y[from, to), at the known frequency. */
export function fitSine(
  y: ArrayLike<number>,
  hz: number,
  rate: number,
  from: number,
  to = y.length,
): SineFit {
  const w = (2 * Math.PI * hz) / rate;
  let ss = 0;
  let cc = 0;
  let sc = 0;
  let ys = 0;
  let yc = 0;
  for (let n = from; n < to; n++) {
    const s = Math.sin(w * n);
    const c = Math.cos(w * n);
    const v = y[n] ?? 0;
    ss += s * s;
    cc += c * c;
    sc += s * c;
    ys += v * s;
    yc += v * c;
  }
  const det = ss * cc - sc * sc;
  const a = (ys * cc - yc * sc) / det;
  const b = (yc * ss - ys * sc) / det;
  let signal = 0;
  let residual = 0;
  for (let n = from; n < to; n++) {
    const fitted = a * Math.sin(w * n) + b * Math.cos(w * n);
    signal += fitted * fitted;
    residual += ((y[n] ?? 0) - fitted) ** 2;
  }
  return {
    amplitude: Math.hypot(a, b),
    phase: Math.atan2(b, a),
    snrDb: 10 * Math.log10(signal / residual),
  };
}
