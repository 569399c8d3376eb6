import { describe, expect, it } from "vitest";
import { decideAttempt } from "../../durable-objects/attempt-window.ts";
import {
  digestsEqual,
  hashResumeToken,
  newResumeToken,
} from "../../durable-objects/session-store.ts";
import { describeError } from "../../worker/log.ts";
import { hashPin } from "../../worker/pin-hash.ts";

const SECRET = "unit-test-secret-0123456789";

describe("hashPin", () => {
  it("is a keyed, deterministic SHA-256 HMAC", async () => {
    const a = await hashPin("1234", SECRET);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashPin("1234", SECRET)).toBe(a);
    expect(await hashPin("1234", `${SECRET}x`)).not.toBe(a);
    expect(await hashPin("1235", SECRET)).not.toBe(a);
  });

  it("matches an independent HMAC implementation", async () => {
    const { createHmac } = await import("node:crypto");
    expect(await hashPin("2468", SECRET)).toBe(
      createHmac("sha256", SECRET).update("2468").digest("hex"),
    );
  });

  it("refuses a short secret", async () => {
    await expect(hashPin("1234", "short")).rejects.toThrow(/at least 16/);
  });
});

describe("decideAttempt", () => {
  const WINDOW = 15 * 60_000;
  it("allows up to the limit, then refuses until the oldest attempt leaves the window", () => {
    let attempts: number[] = [];
    for (let i = 0; i < 20; i++) {
      const d = decideAttempt(attempts, 1_000 + i, 20, WINDOW);
      expect(d.allowed).toBe(true);
      attempts = d.attempts;
    }
    const refused = decideAttempt(attempts, 2_000, 20, WINDOW);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBe(1_000 + WINDOW - 2_000);
    expect(decideAttempt(attempts, 1_000 + WINDOW, 20, WINDOW).allowed).toBe(true);
  });

  it("forgets attempts outside the window", () => {
    const d = decideAttempt([0, 1, 2], WINDOW + 5, 3, WINDOW);
    expect(d.attempts).toEqual([WINDOW + 5]);
  });
});

describe("resume tokens", () => {
  it("are long, url-safe, random, and compared by digest", async () => {
    const a = newResumeToken();
    const b = newResumeToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    const ha = await hashResumeToken(a);
    expect(digestsEqual(ha, await hashResumeToken(a))).toBe(true);
    expect(digestsEqual(ha, await hashResumeToken(b))).toBe(false);
    expect(digestsEqual(ha, ha.slice(1))).toBe(false);
  });
});

describe("describeError", () => {
  it("drops the bound parameters drizzle appends to query errors", () => {
    const error = new Error(
      "Failed query: select * from users where pin_hash = $1\nparams: deadbeef",
    );
    expect(describeError(error)).toBe(
      "Error: Failed query: select * from users where pin_hash = $1",
    );
  });
});
