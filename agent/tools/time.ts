/**
 * Times for tools: the model writes ISO 8601 (ideally with an offset); a bare date or a
 * local time without offset is read in the caller's time zone. Results are rendered the way
 * they will be spoken, in that zone.
 */
import { z } from "zod";
import { ToolInputError } from "./types.ts";

export const TimeInput = z
  .string()
  .min(10)
  .max(40)
  .describe("ISO 8601, e.g. 2026-11-27T15:00:00-05:00, or a date 2026-11-27");

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/;

/** UTC offset of a zone at an instant, in minutes (e.g. -300 for New York in winter). */
export function zoneOffsetMinutes(at: Date, timeZone: string): number {
  const name =
    new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" })
      .formatToParts(at)
      .find((p) => p.type === "timeZoneName")?.value ?? "GMT";
  const match = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
  if (!match) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3] ?? 0);
  return match[1] === "-" ? -minutes : minutes;
}

function zonedToUtc(parts: number[], timeZone: string): Date {
  const [y = 0, mo = 1, d = 1, h = 0, mi = 0, s = 0] = parts;
  const guess = Date.UTC(y, mo - 1, d, h, mi, s);
  const first = guess - zoneOffsetMinutes(new Date(guess), timeZone) * 60_000;
  // Near a DST change the offset at the guess can differ from the offset at the answer.
  return new Date(guess - zoneOffsetMinutes(new Date(first), timeZone) * 60_000);
}

/**
 * Reads a time the model gave. `endOfDay` puts a bare date at 23:59 local (a due date);
 * otherwise a bare date means 09:00 local.
 */
export function parseTime(
  value: string,
  timeZone: string,
  options: { endOfDay?: boolean } = {},
): Date {
  const date = DATE_ONLY.exec(value);
  if (date) {
    const time = options.endOfDay ? [23, 59] : [9, 0];
    return zonedToUtc([...date.slice(1, 4).map(Number), ...time], timeZone);
  }
  const local = LOCAL.exec(value);
  if (local)
    return zonedToUtc(
      local.slice(1).map((p) => Number(p ?? 0)),
      timeZone,
    );
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) {
    throw new ToolInputError(`"${value.slice(0, 40)}" is not a date or time I can read.`);
  }
  return parsed;
}

/** "Fri 28 Nov, 3:00 pm" in the caller's zone. */
export function speakTime(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone,
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "numeric",
    minute: "2-digit",
    hour12: true,
  }).format(at);
}

/** "Fri 28 Nov" in the caller's zone. */
export function speakDate(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone,
    weekday: "short",
    day: "numeric",
    month: "short",
  }).format(at);
}
