/**
 * One turn's window of a benchmark run, to read a CPU profile of the run over it alone: from the
 * first sign that turn was over in any measured call (its final transcript, or Flux's
 * EagerEndOfTurn, as the bench's figures time it) to the last first reply frame a page received
 * for it. For the burst's first turn (`--turn 0`) that is the time every call's work shares the
 * thread, which a whole run's profile dilutes in seconds of streaming.
 *
 * The timeline (`npm run bench -- --profile DIR`, or `--timeline DIR`) is on the benchmark's
 * clock; a workerd CPU profile's timestamps are CLOCK_MONOTONIC microseconds, which the timeline
 * relates to its own clock (`monotonicMinusBenchUs`).
 */
import type { CpuProfile } from "../cpu-profile.ts";
import type { Timeline } from "./runs.ts";
import { turnWords } from "./tags.ts";

export interface WindowUs {
  fromUs: number;
  toUs: number;
}

/** Turn `turn`'s window in the profile's clock, over the timeline's calls (the measured ones). */
export function turnWindowUs(timeline: Timeline, turn: number): WindowUs {
  const ends: number[] = [];
  const replies: number[] = [];
  for (const call of timeline.calls) {
    const words = turnWords(call.tag, turn);
    const end = timeline.stt[call.sessionId]?.find((event) => event.text?.startsWith(words));
    const replyAt = call.turns[turn]?.replyAt;
    if (end) ends.push(end.at);
    if (replyAt !== undefined) replies.push(replyAt);
  }
  if (ends.length === 0 || replies.length === 0) {
    throw new Error(`the timeline has no turn ${turn} answered in a measured call`);
  }
  const toProfileClock = (benchMs: number) => benchMs * 1000 + timeline.monotonicMinusBenchUs;
  return {
    fromUs: toProfileClock(Math.min(...ends)),
    toUs: toProfileClock(Math.max(...replies)),
  };
}

/** The profile with only its samples inside `window` (their time deltas recomputed). */
export function cropProfile<P extends CpuProfile>(profile: P, window: WindowUs): P {
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let at = profile.startTime;
  let last = window.fromUs;
  profile.samples.forEach((sample, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at < window.fromUs || at > window.toUs) return;
    samples.push(sample);
    timeDeltas.push(at - last);
    last = at;
  });
  return { ...profile, startTime: window.fromUs, endTime: window.toUs, samples, timeDeltas };
}
