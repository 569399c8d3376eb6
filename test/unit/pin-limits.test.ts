import { describe, expect, it } from "vitest";
import {
  decideTier,
  type FailureLimit,
  tierOpen,
  waitUntilBelow,
} from "../../durable-objects/attempt-window.ts";
import {
  combine,
  lastTryMessage,
  lockedOutMessage,
  refusalMessage,
  type TierVerdict,
} from "../../durable-objects/sign-in-limits.ts";

const WINDOW = 15 * 60_000;
const ADDRESS: FailureLimit = { limit: 3, hardLimit: 5, windowMs: WINDOW };
const WRONG = { correct: false, trusted: false };
const RIGHT = { correct: true, trusted: false };
const RIGHT_KNOWN = { correct: true, trusted: true };

/** Failures recorded one second apart from t = 1000 s. */
function failures(count: number, policy = ADDRESS): number[] {
  let expiries: number[] = [];
  for (let i = 0; i < count; i++) {
    expiries = decideTier(expiries, 1_000_000 + i * 1000, policy, WRONG).expiries;
  }
  return expiries;
}
const NOW = 1_000_000 + 60_000;

describe("decideTier: only failures count", () => {
  it("lets a correct PIN through any number of times without counting it", () => {
    let expiries: number[] = [];
    for (let i = 0; i < 100; i++) {
      const d = decideTier(expiries, NOW + i, ADDRESS, RIGHT);
      expect(d).toMatchObject({ passed: true, recorded: false, left: 3 });
      expiries = d.expiries;
    }
    expect(expiries).toEqual([]);
  });

  it("looks at wrong PINs up to the limit, saying how many are left, then refuses them", () => {
    let expiries: number[] = [];
    const seen = [];
    for (let i = 0; i < 4; i++) {
      const d = decideTier(expiries, NOW + i, ADDRESS, WRONG);
      seen.push([d.passed, d.left]);
      expiries = d.expiries;
    }
    expect(seen).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
  });

  it("refuses a correct PIN past the limit exactly as a wrong one: same answer, same trace", () => {
    const before = failures(3);
    const wrong = decideTier(before, NOW, ADDRESS, WRONG);
    const right = decideTier(before, NOW, ADDRESS, RIGHT);
    expect(right).toEqual(wrong);
    expect(right).toMatchObject({ passed: false, recorded: true });
  });

  it("lets a known account through past the limit, up to the hard ceiling", () => {
    expect(decideTier(failures(4), NOW, ADDRESS, RIGHT_KNOWN)).toMatchObject({
      passed: true,
      recorded: false,
    });
    const atCeiling = decideTier(failures(5), NOW, ADDRESS, RIGHT_KNOWN);
    expect(atCeiling).toMatchObject({ passed: false, recorded: false });
    // Until one failure has left the window: the oldest expires at 1000 s + window.
    expect(atCeiling.retryAfterMs).toBe(1_000_000 + WINDOW - NOW);
  });

  it("stores no more failures than the hard ceiling (or the limit when there is none)", () => {
    expect(failures(50)).toHaveLength(5);
    expect(failures(50, { limit: 3, windowMs: WINDOW })).toHaveLength(3);
  });

  it("forgets failures once their window has passed", () => {
    const expiries = failures(3);
    const later = 1_000_000 + 2_000 + WINDOW;
    expect(decideTier(expiries, later, ADDRESS, WRONG)).toMatchObject({ passed: true, left: 2 });
  });
});

describe("window arithmetic", () => {
  it("waits until fewer than the limit are left", () => {
    const live = [10, 20, 30, 40];
    expect(waitUntilBelow(live, 5, 5)).toBe(0);
    expect(waitUntilBelow(live, 5, 4)).toBe(5);
    expect(waitUntilBelow(live, 5, 3)).toBe(15);
    expect(waitUntilBelow(live, 5, 1)).toBe(35);
  });

  it("gives the wait with the last try and with each refusal", () => {
    const last = decideTier(failures(2), NOW, ADDRESS, WRONG);
    expect(last).toMatchObject({ passed: true, left: 0 });
    expect(last.retryAfterMs).toBe(1_000_000 + WINDOW - NOW);
    const refused = decideTier(failures(3), NOW, ADDRESS, WRONG);
    // Four failures now: two must expire, the second at 1001 s + window.
    expect(refused.retryAfterMs).toBe(1_001_000 + WINDOW - NOW);
  });

  it("closes the gate before a lookup only when no PIN at all could pass", () => {
    expect(tierOpen(failures(2), NOW, ADDRESS, false).open).toBe(true);
    expect(tierOpen(failures(3), NOW, ADDRESS, false)).toEqual({
      open: false,
      retryAfterMs: 1_000_000 + WINDOW - NOW,
    });
    expect(tierOpen(failures(3), NOW, ADDRESS, true).open).toBe(true);
    expect(tierOpen(failures(5), NOW, ADDRESS, true).open).toBe(false);
  });
});

describe("combine: one verdict from the tiers", () => {
  const network = { scope: "network" as const };
  const service = { scope: "service" as const };
  const passed = (left: number, retryAfterMs = 0) => ({ passed: true, left, retryAfterMs });
  const refused = (retryAfterMs: number) => ({ passed: false, left: 0, retryAfterMs });

  it("says the fewest tries left of any tier, and whose they are", () => {
    const answers: TierVerdict[] = [
      { tier: network, answer: passed(7) },
      { tier: service, answer: passed(2) },
    ];
    expect(combine(answers)).toEqual({
      kind: "wrong_pin",
      triesLeft: 2,
      limitedBy: "service",
      retryAfterSeconds: 0,
    });
  });

  it("refuses when any tier does, naming the network first, with the longest wait", () => {
    expect(
      combine([
        { tier: network, answer: refused(60_000) },
        { tier: service, answer: refused(600_500) },
      ]),
    ).toEqual({ kind: "refused", scope: "network", retryAfterSeconds: 601 });
    expect(
      combine([
        { tier: network, answer: passed(5) },
        { tier: service, answer: refused(1_000) },
      ]),
    ).toEqual({ kind: "refused", scope: "service", retryAfterSeconds: 1 });
  });
});

describe("messages", () => {
  it("give the wait in whole minutes, at least one", () => {
    expect(refusalMessage("network", 900)).toBe(
      "Too many wrong PINs from your network. Try again in 15 minutes.",
    );
    expect(refusalMessage("network", 5)).toMatch(/Try again in 1 minute\.$/);
    expect(refusalMessage("service", 3600)).toMatch(/networks you haven't used.*60 minutes\.$/);
    expect(lastTryMessage("network", 61)).toMatch(/^That PIN didn't match.*2 minutes\.$/);
  });

  it("tell a locked-out session whether a new one can try at once", () => {
    expect(
      lockedOutMessage({
        kind: "wrong_pin",
        triesLeft: 3,
        limitedBy: "network",
        retryAfterSeconds: 0,
      }),
    ).toMatch(/start a new one/);
    expect(
      lockedOutMessage({
        kind: "wrong_pin",
        triesLeft: 0,
        limitedBy: "network",
        retryAfterSeconds: 90,
      }),
    ).toMatch(/try again in 2 minutes\.$/);
  });
});
