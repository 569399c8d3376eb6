/** The call's pure logic: when a silence calls for a check-in or a goodbye, and the greeting's words. */
import { describe, expect, it } from "vitest";
import { greetingText, spokenTime } from "../../durable-objects/greeting.ts";
import { silenceStep } from "../../durable-objects/silence-watch.ts";
import { localMidnight } from "../../worker/db/today.ts";

const settings = { checkInMs: 12_000, goodbyeMs: 45_000 };

describe("silenceStep", () => {
  it("waits, checks in once after the check-in delay, then says goodbye at the long one", () => {
    const start = { lastActivityAt: 1_000, checkedIn: false };
    expect(silenceStep(start, 5_000, settings)).toEqual({ action: "wait", nextAt: 13_000 });
    expect(silenceStep(start, 13_000, settings)).toEqual({ action: "check_in", nextAt: 46_000 });
    const checked = { ...start, checkedIn: true };
    // The check-in does not restart the clock: the goodbye is 45 s after the last activity.
    expect(silenceStep(checked, 20_000, settings)).toEqual({ action: "wait", nextAt: 46_000 });
    expect(silenceStep(checked, 46_000, settings)).toEqual({
      action: "goodbye",
      nextAt: undefined,
    });
  });

  it("a silence already past the goodbye (woken late) says goodbye without a check-in", () => {
    const start = { lastActivityAt: 0, checkedIn: false };
    expect(silenceStep(start, 60_000, settings).action).toBe("goodbye");
  });
});

describe("greetingText", () => {
  const tz = "Europe/Berlin";
  const now = new Date("2026-11-24T09:00:00+01:00");
  const at = (iso: string) => new Date(iso);

  it("with nothing due: the plain greeting", () => {
    expect(greetingText("Alice", undefined, tz, now)).toBe("Hi Alice, what can I do for you?");
    expect(greetingText("Alice", { reminders: [], nextEvent: null }, tz, now)).toBe(
      "Hi Alice, what can I do for you?",
    );
  });

  it("a reminder today and tomorrow's event, said the way people say them", () => {
    const text = greetingText(
      "Alice",
      {
        reminders: [{ message: "Call the registrar.", remindAt: at("2026-11-24T15:00:00+01:00") }],
        nextEvent: { title: "Ops stand-up", startsAt: at("2026-11-25T09:00:00+01:00") },
      },
      tz,
      now,
    );
    expect(text).toBe(
      "Hi Alice — you have a reminder at 3 pm to call the registrar, and Ops stand-up tomorrow at 9 am. What can I do for you?",
    );
  });

  it("two reminders are both said; more than three are counted, not read out", () => {
    const r = (h: string, message: string) => ({
      message,
      remindAt: at(`2026-11-24T${h}:00+01:00`),
    });
    expect(
      greetingText(
        "Bo",
        {
          reminders: [r("10:30", "to buy milk"), r("17:00", "File the IRS form")],
          nextEvent: null,
        },
        tz,
        now,
      ),
    ).toBe(
      "Hi Bo — you have reminders at 10:30 am to buy milk and at 5 pm to file the IRS form. What can I do for you?",
    );
    const five = ["a", "b", "c", "d", "e"].map((m, i) => r(`1${i}:00`, `Do ${m}`));
    expect(greetingText("Bo", { reminders: five, nextEvent: null }, tz, now)).toBe(
      "Hi Bo — you have 5 reminders today, the first at 10 am to do a. What can I do for you?",
    );
  });

  it("an event later today has no day word", () => {
    const text = greetingText(
      "Cy",
      { reminders: [], nextEvent: { title: "Review", startsAt: at("2026-11-24T16:15:00+01:00") } },
      tz,
      now,
    );
    expect(text).toBe("Hi Cy — you have Review at 4:15 pm. What can I do for you?");
  });
});

describe("times", () => {
  it("spokenTime drops ':00' and says am/pm", () => {
    expect(spokenTime(new Date("2026-11-24T00:05:00Z"), "UTC")).toBe("12:05 am");
    expect(spokenTime(new Date("2026-11-24T12:00:00Z"), "UTC")).toBe("12 pm");
  });

  it("localMidnight is the start of the caller's day, across a DST change", () => {
    const now = new Date("2026-03-29T12:00:00+02:00");
    expect(localMidnight(now, "Europe/Berlin", 0).toISOString()).toBe("2026-03-28T23:00:00.000Z");
    expect(localMidnight(now, "Europe/Berlin", 1).toISOString()).toBe("2026-03-29T22:00:00.000Z");
  });
});
