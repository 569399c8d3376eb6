import { describe, expect, it, vi } from "vitest";
import { WriteBehind } from "../../durable-objects/write-behind.ts";

describe("WriteBehind", () => {
  it("writes at once when nothing holds it, and a failure reaches the caller", () => {
    const errors: unknown[] = [];
    const writes = new WriteBehind((error) => errors.push(error));
    const made: string[] = [];
    writes.write(() => void made.push("a"));
    expect(made).toEqual(["a"]);
    // Not held: the caller sees the failure itself.
    expect(() =>
      writes.write(() => {
        throw new Error("disk full");
      }),
    ).toThrow("disk full");
    expect(errors).toEqual([]);
  });

  it("holds writes until the last hold is released, then makes them in order", () => {
    const writes = new WriteBehind(() => undefined);
    const made: string[] = [];
    const first = writes.hold();
    const second = writes.hold();
    expect(writes.holding).toBe(true);
    writes.write(() => void made.push("turn number"));
    writes.write(() => void made.push("turn in flight"));
    first();
    first(); // a second release of the same hold does nothing
    expect(made).toEqual([]);
    second();
    expect(made).toEqual(["turn number", "turn in flight"]);
    expect(writes.holding).toBe(false);
    writes.write(() => void made.push("after"));
    expect(made.at(-1)).toBe("after");
  });

  it("a read can ask for what is held to be written first; a wipe drops it", () => {
    const writes = new WriteBehind(() => undefined);
    const made: string[] = [];
    const release = writes.hold();
    writes.write(() => void made.push("checkpoint"));
    writes.flush();
    expect(made).toEqual(["checkpoint"]);
    writes.write(() => void made.push("stale"));
    writes.discard();
    release();
    expect(made).toEqual(["checkpoint"]);
  });

  it("a held write that fails is reported, and the others are still made", () => {
    const errors: unknown[] = [];
    const writes = new WriteBehind((error) => errors.push(error));
    const made: string[] = [];
    const release = writes.hold();
    writes.write(() => {
      throw new Error("too large");
    });
    writes.write(() => {
      throw new Error("row refused");
    });
    writes.write(() => void made.push("next"));
    release();
    expect(made).toEqual(["next"]);
    expect(errors.map((e) => (e as Error).message)).toEqual(["too large", "row refused"]);
  });

  it("a hold with a limit lets go by itself: a turn that neither speaks nor ends holds nothing for long", () => {
    vi.useFakeTimers();
    try {
      const writes = new WriteBehind(() => undefined);
      const made: string[] = [];
      const release = writes.hold(2_000);
      writes.write(() => void made.push("heartbeat"));
      vi.advanceTimersByTime(1_999);
      expect(made).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(made).toEqual(["heartbeat"]);
      expect(writes.holding).toBe(false);
      release(); // late: nothing more to do, and no other hold is let go
      const other = writes.hold();
      release();
      expect(writes.holding).toBe(true);
      other();
    } finally {
      vi.useRealTimers();
    }
  });
});
