import { describe, expect, it } from "vitest";
import { BURST_SPREAD_MS, burstTurns } from "../../scripts/bench-voice/figures.ts";

const all = { p50: 36, p95: 283, p99: 307, n: 250 };
const first = { p50: 236, p95: 307, p99: 307, n: 50 };

describe("bench: the burst goal reads the turns that are bursts", () => {
  it("every turn while each one's finals came within the burst's spread", () => {
    const burst = burstTurns({
      finals_spread_ms: [114, 172, BURST_SPREAD_MS, 101],
      final_to_audio_ms: all,
      first_turn_final_to_audio_ms: first,
    });
    expect(burst).toEqual({ which: "every turn", final_to_audio_ms: all });
  });

  it("the first turn alone once the calls drifted apart", () => {
    const burst = burstTurns({
      finals_spread_ms: [114, 536, 597, 599, 603],
      final_to_audio_ms: all,
      first_turn_final_to_audio_ms: first,
    });
    expect(burst).toEqual({ which: "the first turn", final_to_audio_ms: first });
  });
});
