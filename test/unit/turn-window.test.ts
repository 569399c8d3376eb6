import { describe, expect, it } from "vitest";
import type { Timeline } from "../../scripts/bench-voice/runs.ts";
import { cropProfile, turnWindowUs } from "../../scripts/bench-voice/turn-window.ts";
import type { CpuProfile } from "../../scripts/cpu-profile.ts";

/**
 * Two measured calls (a warm-up call's events are in the fakes' log too, under its own session);
 * the profile's clock is 1 000 000 µs ahead of the bench's.
 */
const timeline = {
  monotonicMinusBenchUs: 1_000_000,
  wallMinusBenchUs: 0,
  calls: [
    { sessionId: "a", tag: "[r2c0t", turns: [{ replyAt: 130 }, { replyAt: 900 }] },
    { sessionId: "b", tag: "[r2c1t", turns: [{ replyAt: 150 }, { replyAt: 950 }] },
  ],
  stt: {
    a: [
      { kind: "stt_final", at: 100, text: "[r2c0t0] what's next?" },
      { kind: "stt_final", at: 800, text: "[r2c0t1] what's next?" },
    ],
    b: [
      { kind: "stt_final", at: 110, text: "[r2c1t0] what's next?" },
      { kind: "stt_final", at: 820, text: "[r2c1t1] what's next?" },
    ],
    warm: [{ kind: "stt_final", at: 20, text: "[w2c0t0] what's next?" }],
  },
  tts: {},
  model: {},
} as unknown as Timeline;

describe("a turn's window of a benchmark run (profile-summary --turn-window)", () => {
  it("runs from the turn's first end (final) to its last first reply frame, on the profile's clock, measured calls only", () => {
    expect(turnWindowUs(timeline, 0)).toEqual({ fromUs: 1_100_000, toUs: 1_150_000 });
    expect(turnWindowUs(timeline, 1)).toEqual({ fromUs: 1_800_000, toUs: 1_950_000 });
    expect(() => turnWindowUs(timeline, 2)).toThrow(/no turn 2/);
  });

  it("keeps only the samples inside the window, their deltas from the window's start", () => {
    const profile: CpuProfile = {
      nodes: [],
      startTime: 1_000_000,
      endTime: 1_300_000,
      // Samples at 1 050 000, 1 120 000, 1 140 000 and 1 200 000 µs.
      samples: [1, 2, 3, 4],
      timeDeltas: [50_000, 70_000, 20_000, 60_000],
    };
    const cropped = cropProfile(profile, { fromUs: 1_100_000, toUs: 1_150_000 });
    expect(cropped.samples).toEqual([2, 3]);
    expect(cropped.timeDeltas).toEqual([20_000, 20_000]);
    expect(cropped.startTime).toBe(1_100_000);
    expect(cropped.endTime).toBe(1_150_000);
  });
});
