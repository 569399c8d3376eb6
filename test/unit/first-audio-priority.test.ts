import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  AFTER_SEND_MS,
  afterOtherRepliesStarted,
  MAX_DEFER_MS,
  QUIET_MS,
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
  // Calls of their own per test: a test that ends with a wait still pending leaves it behind.
  let a = "";
  let b = "";
  let c = "";
  // And a clock of their own: when a reply last began to wait is the isolate's, kept between tests.
  let clock = Date.UTC(2030, 0, 1);
  beforeEach(() => {
    vi.useFakeTimers();
    clock += 3_600_000;
    vi.setSystemTime(clock);
    [a, b, c] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("lets bookkeeping run AFTER_SEND_MS later when no reply is waiting: what was sent is written first", async () => {
    expect(repliesAwaited(a)).toBe(0);
    let ran = false;
    void afterOtherRepliesStarted(a).then(() => {
      ran = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toBe(false); // not even on a zero timer: a send's write is still under way
    await vi.advanceTimersByTimeAsync(AFTER_SEND_MS - 1);
    expect(ran).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(ran).toBe(true);
  });

  it("a work that joins its call's wait still waits AFTER_SEND_MS from its own ask", async () => {
    const rows = afterOtherRepliesStarted(a);
    await vi.advanceTimersByTimeAsync(AFTER_SEND_MS - 1);
    const writes = afterOtherRepliesStarted(a); // shares the wait started 4 ms ago
    await vi.advanceTimersByTimeAsync(1);
    expect(await stateOf(rows)).toBe("pending");
    await vi.advanceTimersByTimeAsync(AFTER_SEND_MS - 2);
    expect(await stateOf(writes)).toBe("pending");
    await vi.advanceTimersByTimeAsync(1);
    expect(await stateOf(rows)).toBe("settled");
    expect(await stateOf(writes)).toBe("settled");
  });

  it("waits while another call's reply waits for its first audio, and goes once it has started", async () => {
    const first = replyAwaited(b);
    const second = replyAwaited(c);
    expect(repliesAwaited(a)).toBe(2);
    const bookkeeping = afterOtherRepliesStarted(a);
    first();
    await vi.advanceTimersByTimeAsync(50);
    expect(await stateOf(bookkeeping)).toBe("pending");
    second();
    second(); // a second release changes nothing
    await vi.advanceTimersByTimeAsync(10);
    expect(await stateOf(bookkeeping)).toBe("settled");
    expect(repliesAwaited(a)).toBe(0);
  });

  it("waits until no other call's reply has begun to wait for QUIET_MS: callers who finish close together", async () => {
    replyAwaited(b)(); // another call's reply began to wait, and has already started
    const bookkeeping = afterOtherRepliesStarted(a);
    await vi.advanceTimersByTimeAsync(AFTER_SEND_MS);
    expect(await stateOf(bookkeeping)).toBe("pending"); // no reply waits, but one began just now
    await vi.advanceTimersByTimeAsync(QUIET_MS - AFTER_SEND_MS - 10);
    replyAwaited(c)(); // and another, 20 ms in: the quiet starts again
    await vi.advanceTimersByTimeAsync(QUIET_MS - 1);
    expect(await stateOf(bookkeeping)).toBe("pending");
    await vi.advanceTimersByTimeAsync(1);
    expect(await stateOf(bookkeeping)).toBe("settled");
  });

  it("is not held by its own call's replies beginning to wait", async () => {
    replyAwaited(a)();
    replyAwaited(a)();
    const bookkeeping = afterOtherRepliesStarted(a);
    await vi.advanceTimersByTimeAsync(AFTER_SEND_MS);
    expect(await stateOf(bookkeeping)).toBe("settled");
  });

  it("never waits for its own call's reply: its bookkeeping may be what starts it (a tool)", async () => {
    const own = replyAwaited(a);
    expect(repliesAwaited(a)).toBe(0);
    expect(repliesAwaited(b)).toBe(1);
    const ownWork = afterOtherRepliesStarted(a);
    const otherWork = afterOtherRepliesStarted(b);
    await vi.advanceTimersByTimeAsync(AFTER_SEND_MS);
    expect(await stateOf(ownWork)).toBe("settled");
    expect(await stateOf(otherWork)).toBe("pending");
    own();
  });

  it("a call's works wait together; one whose turn ends goes alone", async () => {
    const other = replyAwaited(b);
    const turn = new AbortController();
    const rows = afterOtherRepliesStarted(a, turn.signal);
    const writes = afterOtherRepliesStarted(a);
    await vi.advanceTimersByTimeAsync(30);
    turn.abort();
    expect(await stateOf(rows)).toBe("settled");
    expect(await stateOf(writes)).toBe("pending");
    other();
    await vi.advanceTimersByTimeAsync(10);
    expect(await stateOf(writes)).toBe("settled");
  });

  it("is put off no longer than its limit", async () => {
    const stuck = replyAwaited(b);
    const bookkeeping = afterOtherRepliesStarted(a);
    await vi.advanceTimersByTimeAsync(MAX_DEFER_MS - 20);
    expect(await stateOf(bookkeeping)).toBe("pending");
    await vi.advanceTimersByTimeAsync(20);
    expect(await stateOf(bookkeeping)).toBe("settled");
    stuck();
  });

  it("goes at once when its own turn is over", async () => {
    const other = replyAwaited(b);
    const turn = new AbortController();
    const bookkeeping = afterOtherRepliesStarted(a, turn.signal);
    await vi.advanceTimersByTimeAsync(30);
    expect(await stateOf(bookkeeping)).toBe("pending");
    turn.abort();
    await Promise.resolve();
    await Promise.resolve();
    expect(await stateOf(bookkeeping)).toBe("settled");
    other();
  });

  it("forgets a reply lost without a word, so it cannot hold every later turn", async () => {
    replyAwaited(b); // never released
    expect(repliesAwaited(a)).toBe(1);
    await vi.advanceTimersByTimeAsync(STALE_AFTER_MS + 1);
    expect(repliesAwaited(a)).toBe(0);
    const bookkeeping = afterOtherRepliesStarted(a);
    await vi.advanceTimersByTimeAsync(AFTER_SEND_MS);
    expect(await stateOf(bookkeeping)).toBe("settled");
  });
});
