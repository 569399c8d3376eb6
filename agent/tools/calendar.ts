import { and, asc, eq, gt, inArray, lt, ne, or, type SQL } from "drizzle-orm";
import { z } from "zod";
import { calendarEvents } from "../../worker/db/schema.ts";
import { canAssign, myMemberships, teamByName } from "./scope.ts";
import { parseTime, speakTime, TimeInput } from "./time.ts";
import { defineTool, fail, ok, type ToolContext } from "./types.ts";

const NOT_FOUND = "Event not found.";
const EventId = z.uuid().describe("The event's id, from list_events");
const DAY = 86_400_000;

/** Fields an event is made of; create requires the title and start, update none of them. */
const EventFields = z.object({
  title: z.string().trim().min(1).max(200),
  starts_at: TimeInput,
  ends_at: TimeInput.optional(),
  duration_minutes: z
    .number()
    .int()
    .positive()
    .max(24 * 60)
    .optional(),
  location: z.string().max(200).optional(),
});

function describeEvent(row: typeof calendarEvents.$inferSelect, ctx: ToolContext): string {
  const tz = ctx.user.timezone;
  const where = row.location ? `, at ${row.location}` : "";
  return `id ${row.id}, "${row.title}", ${speakTime(row.startsAt, tz)} to ${speakTime(row.endsAt, tz)} (${row.startsAt.toISOString()} – ${row.endsAt.toISOString()})${where}`;
}

/** The user's other events overlapping [start, end): reported so the model can say so. */
async function conflicts(
  ctx: ToolContext,
  start: Date,
  end: Date,
  exceptId?: string,
): Promise<string> {
  const filters: SQL[] = [
    eq(calendarEvents.ownerId, ctx.user.id),
    lt(calendarEvents.startsAt, end),
    gt(calendarEvents.endsAt, start),
  ];
  if (exceptId) filters.push(ne(calendarEvents.id, exceptId));
  const rows = await ctx.db
    .select()
    .from(calendarEvents)
    .where(and(...filters))
    .orderBy(asc(calendarEvents.startsAt));
  if (rows.length === 0) return "";
  return `\nNote: it overlaps ${rows.map((r) => `"${r.title}" (${speakTime(r.startsAt, ctx.user.timezone)} to ${speakTime(r.endsAt, ctx.user.timezone)})`).join(", ")}.`;
}

function endOf(
  start: Date,
  endsAt: string | undefined,
  minutes: number | undefined,
  tz: string,
): Date {
  if (endsAt) return parseTime(endsAt, tz);
  return new Date(start.getTime() + (minutes ?? 60) * 60_000);
}

export const createEvent = defineTool({
  name: "create_event",
  description:
    "Add an event to the caller's calendar. Give ends_at or duration_minutes (default 60). Overlaps with their other events are reported back.",
  input: EventFields.extend({
    description: z.string().max(2000).optional(),
    team: z.string().max(100).optional(),
  }),
  async run(input, ctx) {
    const tz = ctx.user.timezone;
    const startsAt = parseTime(input.starts_at, tz);
    const endsAt = endOf(startsAt, input.ends_at, input.duration_minutes, tz);
    if (endsAt <= startsAt) return fail("The event must end after it starts.");
    let teamId: string | null = null;
    if (input.team) {
      const team = teamByName(await myMemberships(ctx), input.team);
      if (!canAssign(team.role)) return fail(`Viewers can't add events to ${team.teamName}.`);
      teamId = team.teamId;
    }
    const overlap = await conflicts(ctx, startsAt, endsAt);
    const [row] = await ctx.db
      .insert(calendarEvents)
      .values({
        ownerId: ctx.user.id,
        teamId,
        title: input.title,
        startsAt,
        endsAt,
        location: input.location ?? null,
        description: input.description ?? null,
      })
      .returning();
    if (!row) return fail("The event was not saved.");
    return ok(
      `Created: ${describeEvent(row, ctx)}${overlap}`,
      `Booked '${row.title}' for ${speakTime(startsAt, tz)}`,
    );
  },
});

export const listEvents = defineTool({
  name: "list_events",
  description:
    "List calendar events (the caller's and their teams') in a range; default the next 7 days.",
  input: z.object({ from: TimeInput.optional(), to: TimeInput.optional() }),
  async run(input, ctx) {
    const tz = ctx.user.timezone;
    const from = input.from ? parseTime(input.from, tz) : ctx.now;
    const to = input.to
      ? parseTime(input.to, tz, { endOfDay: true })
      : new Date(from.getTime() + 7 * DAY);
    const teamIds = (await myMemberships(ctx)).map((m) => m.teamId);
    const owned = eq(calendarEvents.ownerId, ctx.user.id);
    const rows = await ctx.db
      .select()
      .from(calendarEvents)
      .where(
        and(
          teamIds.length ? or(owned, inArray(calendarEvents.teamId, teamIds)) : owned,
          lt(calendarEvents.startsAt, to),
          gt(calendarEvents.endsAt, from),
        ),
      )
      .orderBy(asc(calendarEvents.startsAt))
      .limit(20);
    if (rows.length === 0)
      return ok(`No events between ${speakTime(from, tz)} and ${speakTime(to, tz)}.`);
    return ok(
      `${rows.length} event${rows.length === 1 ? "" : "s"}:\n${rows.map((r) => describeEvent(r, ctx)).join("\n")}`,
    );
  },
});

/** Events the user owns; team events can be read by members but changed only by their owner. */
const owned = (ctx: ToolContext, id: string) =>
  and(eq(calendarEvents.id, id), eq(calendarEvents.ownerId, ctx.user.id));

export const updateEvent = defineTool({
  name: "update_event",
  description: "Move or change one of the caller's events. Overlaps are reported back.",
  input: EventFields.partial().extend({ id: EventId }),
  async run(input, ctx) {
    const tz = ctx.user.timezone;
    const [row] = await ctx.db.select().from(calendarEvents).where(owned(ctx, input.id));
    if (!row) return fail(NOT_FOUND);
    const startsAt = input.starts_at ? parseTime(input.starts_at, tz) : row.startsAt;
    const keepLength = row.endsAt.getTime() - row.startsAt.getTime();
    const endsAt =
      input.ends_at || input.duration_minutes
        ? endOf(startsAt, input.ends_at, input.duration_minutes, tz)
        : new Date(startsAt.getTime() + keepLength);
    if (endsAt <= startsAt) return fail("The event must end after it starts.");
    const overlap = await conflicts(ctx, startsAt, endsAt, row.id);
    const [updated] = await ctx.db
      .update(calendarEvents)
      .set({
        startsAt,
        endsAt,
        updatedAt: new Date(),
        ...(input.title !== undefined ? { title: input.title } : {}),
        ...(input.location !== undefined ? { location: input.location } : {}),
      })
      .where(owned(ctx, row.id))
      .returning();
    if (!updated) return fail(NOT_FOUND);
    return ok(
      `Updated: ${describeEvent(updated, ctx)}${overlap}`,
      `Moved '${updated.title}' to ${speakTime(startsAt, tz)}`,
    );
  },
});

export const deleteEvent = defineTool({
  name: "delete_event",
  description: "Delete one of the caller's events, after they confirm.",
  input: z.object({ id: EventId }),
  async run(input, ctx) {
    const [row] = await ctx.db.delete(calendarEvents).where(owned(ctx, input.id)).returning();
    if (!row) return fail(NOT_FOUND);
    return ok(`Deleted the event "${row.title}".`, `Cancelled '${row.title}'`);
  },
});

export const CALENDAR_TOOLS = [createEvent, listEvents, updateEvent, deleteEvent];
