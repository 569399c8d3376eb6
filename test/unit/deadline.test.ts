import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { withIdleDeadline } from "../../voice/deadline.ts";
import { ProviderTimeoutError } from "../../voice/errors.ts";

/** A stream that pushes what it is told, when told, and ends (or fails) on its signal's abort. */
function scriptedStream() {
  let push: (item: number) => void = () => undefined;
  let end: () => void = () => undefined;
  let streamSignal: AbortSignal | undefined;
  const run = (signal: AbortSignal, onItem: (item: number) => void) =>
    new Promise<void>((resolve, reject) => {
      streamSignal = signal;
      push = onItem;
      end = resolve;
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  return {
    run,
    push: (item: number) => push(item),
    end: () => end(),
    signal: () => streamSignal,
  };
}

/** A scripted stream under a 100 ms deadline, its items collected. */
function collected(signal = new AbortController().signal) {
  const stream = scriptedStream();
  const items: number[] = [];
  const done = withIdleDeadline(stream.run, (i) => items.push(i), 100, signal, "Test");
  return { stream, items, done };
}

describe("withIdleDeadline", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("hands each item on as it comes; every item restarts the wait", async () => {
    const { stream, items, done } = collected();
    for (let i = 1; i <= 5; i++) {
      await vi.advanceTimersByTimeAsync(80);
      stream.push(i);
    }
    stream.end();
    await expect(done).resolves.toBeUndefined();
    expect(items).toEqual([1, 2, 3, 4, 5]);
  });

  it("a stream that goes quiet after some items fails with the deadline, which aborts it", async () => {
    const { stream, items, done } = collected();
    const failed = expect(done).rejects.toBeInstanceOf(ProviderTimeoutError);
    stream.push(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(stream.signal()?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(stream.signal()?.reason).toBeInstanceOf(ProviderTimeoutError);
    await failed;
    // Nothing is handed on after the deadline.
    stream.push(2);
    expect(items).toEqual([1]);
  });

  it("ends quietly when the caller's signal aborts, and hands nothing on after it", async () => {
    const caller = new AbortController();
    const { stream, items, done } = collected(caller.signal);
    stream.push(1);
    caller.abort();
    stream.push(2);
    await expect(done).resolves.toBeUndefined();
    expect(items).toEqual([1]);
    expect(stream.signal()?.aborted).toBe(true);
    // No deadline fires later for it.
    await vi.advanceTimersByTimeAsync(1_000);
  });

  it("an item its handler fails on ends the stream with that error", async () => {
    const stream = scriptedStream();
    const broken = new Error("handler failed");
    const done = withIdleDeadline(
      stream.run,
      (i) => {
        if (i === 2) throw broken;
      },
      100,
      new AbortController().signal,
      "Test",
    );
    const failed = expect(done).rejects.toBe(broken);
    stream.push(1);
    stream.push(2);
    expect(stream.signal()?.aborted).toBe(true);
    await failed;
  });
});
