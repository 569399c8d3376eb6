import { describe, expect, it } from "vitest";
import { CANCELLED_TOOL_RESULT, prepareForModel, spokenText } from "../../agent/history.ts";
import { DEFAULT_RETRY_POLICY, nextRetryDelay, sleep } from "../../agent/llm/retry.ts";
import type { MessageParam } from "../../agent/llm/types.ts";
import { buildSystemPrompt, describeNow, timeNote } from "../../agent/system-prompt.ts";

describe("prepareForModel", () => {
  it("answers a tool call left without a result, so the next request is valid", () => {
    const messages: MessageParam[] = [
      { role: "user", content: "add milk" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Adding." },
          { type: "tool_use", id: "t1", name: "create_todo", input: { title: "milk" } },
        ],
      },
      { role: "user", content: "actually, stop" },
    ];
    const prepared = prepareForModel(messages);
    expect(prepared).toHaveLength(3);
    expect(prepared[2]).toEqual({
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "t1", content: CANCELLED_TOOL_RESULT, is_error: true },
        { type: "text", text: "actually, stop" },
      ],
    });
  });

  it("merges consecutive messages of one role and drops empty ones", () => {
    const prepared = prepareForModel([
      { role: "assistant", content: "left over" },
      { role: "user", content: "one" },
      { role: "user", content: "" },
      { role: "user", content: "two" },
      { role: "assistant", content: [] },
      { role: "assistant", content: "answer" },
    ]);
    expect(prepared).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "one" },
          { type: "text", text: "two" },
        ],
      },
      { role: "assistant", content: [{ type: "text", text: "answer" }] },
    ]);
  });

  it("leaves a complete tool exchange alone", () => {
    const messages: MessageParam[] = [
      { role: "user", content: [{ type: "text", text: "list" }] },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "a", name: "list_todos", input: {} }],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "a", content: "[]" }] },
      { role: "assistant", content: [{ type: "text", text: "Nothing." }] },
    ];
    expect(prepareForModel(messages)).toEqual(messages);
  });

  it("spokenText keeps text and leaves tool calls out", () => {
    expect(
      spokenText({
        role: "assistant",
        content: [
          { type: "text", text: "Sure. " },
          { type: "tool_use", id: "x", name: "n", input: {} },
          { type: "text", text: "Done." },
        ],
      }),
    ).toBe("Sure. Done.");
  });
});

describe("nextRetryDelay", () => {
  const policy = DEFAULT_RETRY_POLICY;
  const noJitter = () => 0.5;
  it("backs off by three each time, within the budget", () => {
    expect(nextRetryDelay(1, 0, policy, undefined, noJitter)).toBe(250);
    expect(nextRetryDelay(2, 0, policy, undefined, noJitter)).toBe(750);
    expect(nextRetryDelay(3, 0, policy, undefined, noJitter)).toBe(2250);
    expect(nextRetryDelay(4, 0, policy, undefined, noJitter)).toBeUndefined();
  });
  it("honours retry-after, but not past the budget", () => {
    expect(nextRetryDelay(1, 0, policy, 2, noJitter)).toBe(2000);
    expect(nextRetryDelay(1, 0, policy, 30, noJitter)).toBeUndefined();
    expect(nextRetryDelay(2, 7_500, policy, undefined, noJitter)).toBeUndefined();
  });
  it("jitters within ±25 %", () => {
    expect(nextRetryDelay(1, 0, policy, undefined, () => 0)).toBe(188);
    expect(nextRetryDelay(1, 0, policy, undefined, () => 1)).toBe(313);
  });
  it("sleep ends at once when aborted", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = sleep(10_000, controller.signal);
    controller.abort();
    await pending;
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe("system prompt", () => {
  const now = new Date("2026-11-24T20:05:00Z");
  it("gives the date, time and offset in the caller's time zone", () => {
    const ny = describeNow(now, "America/New_York");
    // The separators between parts differ between ICU versions; the parts do not.
    expect(ny.local).toMatch(/^Tuesday,? 24 November 2026,? (at )?3:05\s?pm$/);
    expect(ny.offset).toBe("GMT-05:00");
    expect(ny.isoDate).toBe("2026-11-24");
    expect(describeNow(now, "Asia/Tokyo").isoDate).toBe("2026-11-25");
    expect(describeNow(now, "UTC").offset).toBe("GMT+00:00");
  });
  it("names the user and teams and sets the rules for voice and transfers", () => {
    const prompt = buildSystemPrompt({
      name: "Alice Nguyen",
      timezone: "America/New_York",
      teams: [{ name: "Operations", role: "owner" }],
    });
    expect(prompt).toContain("Alice Nguyen");
    expect(prompt).toContain("Operations (owner)");
    expect(prompt).toMatch(/No markdown/);
    expect(prompt).toMatch(/NOT a call transfer/);
    // The time is not in it: each turn's input starts with it, and the prompt says so.
    expect(prompt).toMatch(/<context> note of the current time/);
  });
  it("puts the time in a short note of its own, so the system prompt is the same all session", () => {
    const user = { name: "Alice Nguyen", timezone: "America/New_York", teams: [] };
    const note = timeNote(user, now);
    expect(note).toMatch(/^<context>It is now .*<\/context>$/);
    expect(note).toContain("2026-11-24");
    expect(note).toContain("-05:00");
    expect(note.length).toBeLessThan(200);
    const later = timeNote(user, new Date(now.getTime() + 26 * 3_600_000));
    expect(later).not.toBe(note);
    expect(later).toContain("2026-11-25");
  });
});
