/**
 * What is due for a caller around now, for the greeting: today's reminders and their next event
 * (today or tomorrow). Two indexed queries, run together: reminders by (user_id, remind_at) and
 * events by (owner_id, starts_at).
 */
import { and, asc, eq, gte, lt } from "drizzle-orm";
import { describeNow } from "../../agent/system-prompt.ts";
import { parseTime } from "../../agent/tools/time.ts";
import type { Database } from "./client.ts";
import { calendarEvents, reminders } from "./schema.ts";

export interface DueToday {
  /** Today's reminders not dismissed, earliest first (at most `MAX_REMINDERS`). */
  reminders: { message: string; remindAt: Date }[];
  /** The next event starting from now until the end of tomorrow, if any. */
  nextEvent: { title: string; startsAt: Date } | null;
}

/** Enough to say "five reminders today" without reading a long list. */
const MAX_REMINDERS = 10;

/** Midnight at the start of the local day `days` after `now`'s, as an instant. */
export function localMidnight(now: Date, timeZone: string, days: number): Date {
  const [y = 0, m = 1, d = 1] = describeNow(now, timeZone).isoDate.split("-").map(Number);
  const day = new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
  return parseTime(`${day}T00:00`, timeZone);
}

export async function dueToday(
  db: Database,
  user: { id: string; timezone: string },
  now: Date,
): Promise<DueToday> {
  const today = localMidnight(now, user.timezone, 0);
  const tomorrow = localMidnight(now, user.timezone, 1);
  const dayAfter = localMidnight(now, user.timezone, 2);
  const [dueReminders, events] = await Promise.all([
    db
      .select({ message: reminders.message, remindAt: reminders.remindAt })
      .from(reminders)
      .where(
        and(
          eq(reminders.userId, user.id),
          gte(reminders.remindAt, today),
          lt(reminders.remindAt, tomorrow),
          eq(reminders.dismissed, false),
        ),
      )
      .orderBy(asc(reminders.remindAt))
      .limit(MAX_REMINDERS),
    db
      .select({ title: calendarEvents.title, startsAt: calendarEvents.startsAt })
      .from(calendarEvents)
      .where(
        and(
          eq(calendarEvents.ownerId, user.id),
          gte(calendarEvents.startsAt, now),
          lt(calendarEvents.startsAt, dayAfter),
        ),
      )
      .orderBy(asc(calendarEvents.startsAt))
      .limit(1),
  ]);
  return { reminders: dueReminders, nextEvent: events[0] ?? null };
}
