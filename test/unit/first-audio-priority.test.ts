import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  afterOtherRepliesStarted,
  MAX_DEFER_MS,
  repliesAwaited,
  replyAwaited,
  STALE_AFTER_MS,
} from "../../durable-objects/first-audio-priority.ts";

/** Resolves the promise's state without waiting for it: "pending" or "settled". */
async function stateOf(promise: Promise<unknown>): Promise<"pending" | "settled"> {
  let settled = false;
  void promise.then(() => {
    settled = true;
  });
  await vi.advanceTimersByTimeAsync(0);
  return settled ? "settled" : "pending";
}

describe("first-audio priority (bookkeeping after every waiting reply has started)", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("lets bookkeeping run one macrotask later when no reply is waiting", async () => {
    expect(repliesAwaited("call-a")).toBe(0);
    let ran = false;
    void afterOtherRepliesStarted("call-a").then(() => {
      ran = true;
    });
    await Promise.resolve();
    expect(ran).toBe(false); // never in the task that asked
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toBe(true);
  });

  it("waits while another call's reply waits for its first audio, and goes once it has started", async () => {
    const first = replyAwaited("call-b");
    const second = replyAwaited("call-c");
    expect(repliesAwaited("call-a")).toBe(2);
    const bookkeeping = afterOtherRepliesStarted("call-a");
    first();
    await vi.advanceTimersByTimeAsync(50);
    expect(await stateOf(bookkeeping)).toBe("pending");
    second();
    second(); // a second release changes nothing
    await vi.advanceTimersByTimeAsync(10);
    expect(await stateOf(bookkeeping)).toBe("settled");
    expect(repliesAwaited("call-a")).toBe(0);
  });

  it("never waits for its own call's reply: its bookkeeping may be what starts it (a tool)", async () => {
    const own = replyAwaited("call-a");
    expect(repliesAwaited("call-a")).toBe(0);
    expect(repliesAwaited("call-b")).toBe(1);
    expect(await stateOf(afterOtherRepliesStarted("call-a"))).toBe("settled");
    expect(await stateOf(afterOtherRepliesStarted("call-b"))).toBe("pending");
    own();
  });

  it("is put off no longer than its limit", async () => {
    const stuck = replyAwaited("call-b");
    const bookkeeping = afterOtherRepliesStarted("call-a", undefined, MAX_DEFER_MS);
    await vi.advanceTimersByTimeAsync(MAX_DEFER_MS - 20);
    expect(await stateOf(bookkeeping)).toBe("pending");
    await vi.advanceTimersByTimeAsync(20);
    expect(await stateOf(bookkeeping)).toBe("settled");
    stuck();
  });

  it("goes at once when its own turn is over", async () => {
    const other = replyAwaited("call-b");
    const turn = new AbortController();
    const bookkeeping = afterOtherRepliesStarted("call-a", turn.signal);
    await vi.advanceTimersByTimeAsync(30);
    expect(await stateOf(bookkeeping)).toBe("pending");
    turn.abort();
    await Promise.resolve();
    await Promise.resolve();
    expect(await stateOf(bookkeeping)).toBe("settled");
    other();
  });

  it("forgets a reply lost without a word, so it cannot hold every later turn", async () => {
    replyAwaited("call-b"); // never released
    expect(repliesAwaited("call-a")).toBe(1);
    await vi.advanceTimersByTimeAsync(STALE_AFTER_MS + 1);
    expect(repliesAwaited("call-a")).toBe(0);
    const bookkeeping = afterOtherRepliesStarted("call-a");
    expect(await stateOf(bookkeeping)).toBe("settled");
  });
});
