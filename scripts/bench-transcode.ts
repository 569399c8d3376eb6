/**
 * `node scripts/bench-transcode.ts [frames]` (Node 22, default 20 000 frames): the cost of the
 * Twilio bridge's audio conversion per 20 ms frame, each way, on synthetic speech-like audio:
 * caller 16 kHz PCM16LE (640 bytes) → 8 kHz μ-law (160 bytes), and back, through the same
 * objects and calls the bridge uses. Prints p50, p99 and mean µs per frame (wall clock) and the
 * mean CPU time; the budget is 20 µs each way. `measureTranscodeCost` gives the CPU means to
 * other benchmarks.
 */
import { CallerToTelephony, TelephonyToCaller } from "../voice/audio/telephony-codec.ts";
import { summary } from "./percentiles.ts";

const RATE_HZ = 16_000;
const FRAME_SAMPLES = 320; // 20 ms at 16 kHz
/** Frames run before timing starts, so the figures are for optimised code, not the interpreter. */
const WARMUP_FRAMES = 2_000;
/** 10 s of synthetic speech, played in a loop. */
const CLIP_FRAMES = 500;

/**
 * Voiced speech, roughly: a glottal-like harmonic series on a gliding 100–220 Hz pitch, shaped
 * by three formant bumps, with a syllable-rate envelope and a little noise. Deterministic.
 */
function speechLike(frames: number): Uint8Array {
  const total = frames * FRAME_SAMPLES;
  const pcm = new Int16Array(total);
  let seed = 0x2545f491;
  let phase = 0;
  for (let n = 0; n < total; n++) {
    const t = n / RATE_HZ;
    const f0 = 160 + 60 * Math.sin(2 * Math.PI * 0.7 * t);
    phase += (2 * Math.PI * f0) / RATE_HZ;
    let voiced = 0;
    for (let k = 1; k * f0 < 4_000; k++) {
      const f = k * f0;
      const formants =
        1 / (1 + ((f - 600) / 150) ** 2) +
        0.6 / (1 + ((f - 1_400) / 200) ** 2) +
        0.3 / (1 + ((f - 2_600) / 300) ** 2);
      voiced += (formants / k) * Math.sin(k * phase);
    }
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    const noise = seed / 2 ** 32 - 0.5;
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t) ** 2;
    pcm[n] = Math.round(envelope * (9_000 * voiced + 600 * noise));
  }
  return new Uint8Array(pcm.buffer);
}

interface Cost {
  /** Wall time of each frame, µs. */
  perFrameUs: number[];
  /**
   * This process's CPU time over the timed frames, per frame, µs: unlike wall time, it leaves
   * out the time other processes on a busy machine hold the core.
   */
  cpuUsPerFrame: number;
}

/** Runs `step` on frames 0 … warm-up + frames − 1, timing only those after the warm-up. */
function timeFrames(frames: number, step: (frame: number) => Uint8Array): Cost {
  const warm = Math.min(frames, WARMUP_FRAMES);
  let sink = 0; // reads each result, so no engine can skip the work
  for (let f = 0; f < warm; f++) sink += step(f)[0] ?? 0;
  const perFrameUs: number[] = [];
  const cpu = process.cpuUsage();
  for (let f = warm; f < warm + frames; f++) {
    const t0 = performance.now();
    const out = step(f);
    perFrameUs.push((performance.now() - t0) * 1_000);
    sink += out[0] ?? 0;
  }
  const { user, system } = process.cpuUsage(cpu);
  if (sink < 0) console.log(sink);
  return { perFrameUs, cpuUsPerFrame: (user + system) / frames };
}

/** `bytes` cut into `count` frames, made up front so slicing is not part of the timing. */
function frames(bytes: Uint8Array, count: number): Uint8Array[] {
  const size = bytes.length / count;
  return Array.from({ length: count }, (_, f) => bytes.subarray(f * size, (f + 1) * size));
}

function run(count: number): { callerToTwilio: Cost; twilioToCaller: Cost } {
  const caller = speechLike(CLIP_FRAMES);
  // The Twilio side's input: the same speech, as Twilio would send it.
  const twilio = new CallerToTelephony().encode(caller);
  const callerFrames = frames(caller, CLIP_FRAMES);
  const twilioFrames = frames(twilio, CLIP_FRAMES);
  const toTwilio = new CallerToTelephony();
  const toCaller = new TelephonyToCaller();
  const none = new Uint8Array(0);
  return {
    callerToTwilio: timeFrames(count, (f) =>
      toTwilio.encode(callerFrames[f % CLIP_FRAMES] ?? none),
    ),
    twilioToCaller: timeFrames(count, (f) =>
      toCaller.decode(twilioFrames[f % CLIP_FRAMES] ?? none),
    ),
  };
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

/**
 * Mean CPU µs per 20 ms frame, each way, over `frames` frames after a warm-up. CPU time rather
 * than wall time, so the figure holds on a machine busy with other work.
 */
export function measureTranscodeCost(frames: number): {
  callerToTwilioUs: number;
  twilioToCallerUs: number;
} {
  const { callerToTwilio, twilioToCaller } = run(frames);
  return {
    callerToTwilioUs: callerToTwilio.cpuUsPerFrame,
    twilioToCallerUs: twilioToCaller.cpuUsPerFrame,
  };
}

if (import.meta.main) {
  const frames = Number(process.argv[2] ?? 20_000);
  const { callerToTwilio, twilioToCaller } = run(frames);
  for (const [label, cost] of [
    ["caller → Twilio (640 B PCM16 16 kHz → 160 B μ-law 8 kHz)", callerToTwilio],
    ["Twilio → caller (160 B μ-law 8 kHz → 640 B PCM16 16 kHz)", twilioToCaller],
  ] as const) {
    const { p50, p99 } = summary(cost.perFrameUs);
    const wallMean = mean(cost.perFrameUs).toFixed(2);
    console.log(
      `${label}, µs per 20 ms frame over ${frames} frames: p50 ${p50}, p99 ${p99}, ` +
        `mean ${wallMean} (wall), mean ${cost.cpuUsPerFrame.toFixed(2)} (CPU)`,
    );
  }
}
