import { describe, expect, it } from "vitest";
import type { RunFigures } from "../../scripts/bench-voice/figures.ts";
import { combineRuns, describeRepeat } from "../../scripts/bench-voice/repeats.ts";

const run = (p50: number, p95: number, perTurn: number, spread: number[]) =>
  ({
    condition: "instant",
    calls: 50,
    turns: 250,
    final_to_audio_ms: { p50, p95 },
    overhead_ms: { p50: p50 - 1, p95: p95 - 1 },
    first_turn_final_to_audio_ms: { p50: p50 * 5 },
    finals_spread_ms: spread,
    cpu: { turns: { workerd_ms_per_turn: perTurn } },
  }) as unknown as RunFigures;

describe("bench --repeat: a row's runs as one", () => {
  it("takes every figure's median, arrays element by element, and keeps each run's main figures", () => {
    const combined = combineRuns([
      run(48, 281, 10.6, [100, 500]),
      run(38, 264, 8.1, [90, 600, 700]),
      run(43, 279, 9.0, [110, 550]),
    ]);
    expect(combined.final_to_audio_ms.p50).toBe(43);
    expect(combined.final_to_audio_ms.p95).toBe(279);
    expect(combined.overhead_ms.p50).toBe(42);
    expect(combined.cpu?.turns.workerd_ms_per_turn).toBe(9);
    expect(combined.finals_spread_ms).toEqual([100, 550]);
    expect(combined.condition).toBe("instant");
    expect(combined.repeat?.runs).toBe(3);
    expect(combined.repeat?.values["final→audio p50"]).toEqual([48, 38, 43]);
    expect(describeRepeat(combined.repeat as NonNullable<RunFigures["repeat"]>)).toContain(
      "median of 3 runs, each run's: final→audio p50 48 / 38 / 43",
    );
  });

  it("an even number of runs gives the mean of the middle two", () => {
    expect(combineRuns([run(10, 20, 1, []), run(14, 30, 3, [])]).final_to_audio_ms.p50).toBe(12);
  });

  it("a failed run is left out and said; one run is itself", () => {
    const failed = { condition: "instant", calls: 50, error: "boom" } as RunFigures;
    const combined = combineRuns([run(40, 100, 5, []), failed, run(50, 120, 7, [])]);
    expect(combined.final_to_audio_ms.p50).toBe(45);
    expect(combined.error).toBeUndefined();
    expect(combined.repeat?.failed).toBe("1 of 3 runs failed: boom");
    const one = run(40, 100, 5, []);
    expect(combineRuns([one])).toBe(one);
  });

  it("a run with no turn measured is a failed run, not a NaN in the medians", () => {
    const empty = {
      ...run(Number.NaN, Number.NaN, 7, []),
      turns_measured: 0,
      missing: ["call 1 turn 1: no final"],
    } as RunFigures;
    const combined = combineRuns([run(40, 100, 5, []), empty, run(50, 120, 7, [])]);
    expect(combined.final_to_audio_ms.p50).toBe(45);
    expect(combined.repeat?.failed).toBe(
      "1 of 3 runs failed: no turn was measured (call 1 turn 1: no final)",
    );
  });
});
