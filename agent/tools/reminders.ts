import { and, asc, eq, gte } from "drizzle-orm";
import { z } from "zod";
import { reminders, todos } from "../../worker/db/schema.ts";
import { myMemberships, visibleTodos } from "./scope.ts";
import { parseTime, speakTime, TimeInput } from "./time.ts";
import { defineTool, fail, ok, type ToolContext } from "./types.ts";

const NOT_FOUND = "Reminder not found.";
const ReminderId = z.uuid().describe("The reminder's id, from list_reminders");

function describeReminder(row: typeof reminders.$inferSelect, ctx: ToolContext): string {
  const when = `${speakTime(row.remindAt, ctx.user.timezone)} (${row.remindAt.toISOString()})`;
  return `id ${row.id}, "${row.message}", at ${when}${row.dismissed ? ", dismissed" : ""}`;
}

/** Only the user's own reminders exist for these tools. */
const mine = (ctx: ToolContext, id: string) =>
  and(eq(reminders.id, id), eq(reminders.userId, ctx.user.id));

export const createReminder = defineTool({
  name: "create_reminder",
  description: "Set a reminder for the caller at a time, optionally linked to one of their todos.",
  input: z.object({
    message: z.string().trim().min(1).max(500),
    remind_at: TimeInput,
    todo_id: z.uuid().optional(),
  }),
  async run(input, ctx) {
    if (input.todo_id) {
      const memberships = await myMemberships(ctx);
      const [todo] = await ctx.db
        .select({ id: todos.id })
        .from(todos)
        .where(and(eq(todos.id, input.todo_id), visibleTodos(ctx, memberships)));
      if (!todo) return fail("Todo not found.");
    }
    const remindAt = parseTime(input.remind_at, ctx.user.timezone);
    const [row] = await ctx.db
      .insert(reminders)
      .values({
        userId: ctx.user.id,
        message: input.message,
        remindAt,
        todoId: input.todo_id ?? null,
      })
      .returning();
    if (!row) return fail("The reminder was not saved.");
    return ok(
      `Created: ${describeReminder(row, ctx)}`,
      `Reminder set for ${speakTime(remindAt, ctx.user.timezone)}`,
    );
  },
});

export const listReminders = defineTool({
  name: "list_reminders",
  description: "List the caller's reminders: upcoming ones by default, at most 20.",
  input: z.object({
    include_past: z.boolean().default(false),
    include_dismissed: z.boolean().default(false),
  }),
  async run(input, ctx) {
    const filters = [eq(reminders.userId, ctx.user.id)];
    if (!input.include_past) filters.push(gte(reminders.remindAt, ctx.now));
    if (!input.include_dismissed) filters.push(eq(reminders.dismissed, false));
    const rows = await ctx.db
      .select()
      .from(reminders)
      .where(and(...filters))
      .orderBy(asc(reminders.remindAt))
      .limit(20);
    if (rows.length === 0) return ok("No reminders match.");
    return ok(
      `${rows.length} reminder${rows.length === 1 ? "" : "s"}:\n${rows.map((r) => describeReminder(r, ctx)).join("\n")}`,
    );
  },
});

export const updateReminder = defineTool({
  name: "update_reminder",
  description: "Change a reminder's message or time, or dismiss it.",
  input: z.object({
    id: ReminderId,
    message: z.string().trim().min(1).max(500).optional(),
    remind_at: TimeInput.optional(),
    dismissed: z.boolean().optional(),
  }),
  async run(input, ctx) {
    const changes: Partial<typeof reminders.$inferInsert> = {};
    if (input.message !== undefined) changes.message = input.message;
    if (input.remind_at !== undefined)
      changes.remindAt = parseTime(input.remind_at, ctx.user.timezone);
    if (input.dismissed !== undefined) changes.dismissed = input.dismissed;
    if (Object.keys(changes).length === 0) return fail("Nothing to change was given.");
    const [row] = await ctx.db
      .update(reminders)
      .set(changes)
      .where(mine(ctx, input.id))
      .returning();
    if (!row) return fail(NOT_FOUND);
    return ok(`Updated: ${describeReminder(row, ctx)}`, "Updated a reminder");
  },
});

export const deleteReminder = defineTool({
  name: "delete_reminder",
  description: "Delete one of the caller's reminders, after they confirm.",
  input: z.object({ id: ReminderId }),
  async run(input, ctx) {
    const [row] = await ctx.db.delete(reminders).where(mine(ctx, input.id)).returning();
    if (!row) return fail(NOT_FOUND);
    return ok(`Deleted the reminder "${row.message}".`, "Deleted a reminder");
  },
});

export const REMINDER_TOOLS = [createReminder, listReminders, updateReminder, deleteReminder];
