import { and, asc, eq, gte, lte, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { todoPriority, todos, users } from "../../worker/db/schema.ts";
import {
  canAssign,
  canManage,
  isSelf,
  type Membership,
  myMemberships,
  pickByName,
  teamByName,
  teamMembers,
  visibleTodos,
} from "./scope.ts";
import { parseTime, speakDate, speakTime, TimeInput } from "./time.ts";
import { defineTool, fail, ok, type ToolContext, ToolInputError } from "./types.ts";

const Priority = z.enum(todoPriority.enumValues);
const TodoId = z.uuid().describe("The todo's id, from list_todos");
const NOT_FOUND = "Todo not found.";

/** Who a todo goes to: the user, or a member of a team where the user may assign. */
async function resolveAssignee(
  ctx: ToolContext,
  memberships: Membership[],
  name: string | undefined,
  team: Membership | undefined,
): Promise<{ assigneeId: string; assigneeName: string; team: Membership | undefined }> {
  if (!name || isSelf(ctx, name))
    return { assigneeId: ctx.user.id, assigneeName: ctx.user.name, team };
  const teamsToSearch = team ? [team] : memberships;
  const found: { id: string; name: string; team: Membership }[] = [];
  for (const t of teamsToSearch) {
    for (const m of await teamMembers(ctx, t.teamId)) {
      if (!found.some((f) => f.id === m.id)) found.push({ id: m.id, name: m.name, team: t });
    }
  }
  const person = pickByName(
    found,
    name,
    (f) => f.name,
    team ? `member of ${team.teamName}` : "teammate",
  );
  const via = team ?? person.team;
  if (!canAssign(via.role))
    throw new ToolInputError(`Viewers can't assign todos in ${via.teamName}.`);
  return { assigneeId: person.id, assigneeName: person.name, team: via };
}

function describeTodo(
  row: typeof todos.$inferSelect,
  ctx: ToolContext,
  names: { assignee?: string | null; team?: string | null },
): string {
  const parts = [`id ${row.id}`, `"${row.title}"`, `priority ${row.priority}`];
  parts.push(
    row.dueAt
      ? `due ${speakTime(row.dueAt, ctx.user.timezone)} (${row.dueAt.toISOString()})`
      : "no due date",
  );
  if (names.assignee) parts.push(`assigned to ${names.assignee}`);
  if (names.team) parts.push(`team ${names.team}`);
  parts.push(row.completed ? "done" : "open");
  return parts.join(", ");
}

/** A visible todo, or undefined: another user's todo looks exactly like a missing one. */
async function findVisibleTodo(ctx: ToolContext, memberships: Membership[], id: string) {
  const [row] = await ctx.db
    .select()
    .from(todos)
    .where(and(eq(todos.id, id), visibleTodos(ctx, memberships)));
  return row;
}

function mayChange(
  ctx: ToolContext,
  memberships: Membership[],
  row: typeof todos.$inferSelect,
): boolean {
  if (row.creatorId === ctx.user.id || row.assigneeId === ctx.user.id) return true;
  const role = memberships.find((m) => m.teamId === row.teamId)?.role;
  return role !== undefined && canAssign(role);
}

export const createTodo = defineTool({
  name: "create_todo",
  description:
    "Create a todo for the caller, or for a teammate (give team and/or assignee by name). Due may be a date or an ISO date-time.",
  input: z.object({
    title: z.string().trim().min(1).max(200),
    description: z.string().max(2000).optional(),
    priority: Priority.optional(),
    due: TimeInput.optional(),
    team: z.string().max(100).optional().describe("Team name, for a team todo"),
    assignee: z.string().max(100).optional().describe("Person's name; omit for the caller"),
  }),
  async run(input, ctx) {
    const memberships = await myMemberships(ctx);
    const team = input.team ? teamByName(memberships, input.team) : undefined;
    if (team && !canAssign(team.role))
      return fail(`Viewers can't assign or add todos in ${team.teamName}.`);
    const who = await resolveAssignee(ctx, memberships, input.assignee, team);
    const dueAt = input.due ? parseTime(input.due, ctx.user.timezone, { endOfDay: true }) : null;
    const [row] = await ctx.db
      .insert(todos)
      .values({
        title: input.title,
        description: input.description ?? null,
        priority: input.priority ?? "medium",
        dueAt,
        creatorId: ctx.user.id,
        assigneeId: who.assigneeId,
        teamId: who.team?.teamId ?? null,
      })
      .returning();
    if (!row) return fail("The todo was not saved.");
    const forWhom = who.assigneeId === ctx.user.id ? "" : ` for ${who.assigneeName}`;
    const when = dueAt ? ` due ${speakDate(dueAt, ctx.user.timezone)}` : "";
    return ok(
      `Created: ${describeTodo(row, ctx, { assignee: who.assigneeName, team: who.team?.teamName })}`,
      `Added '${row.title}'${forWhom}${when}`,
    );
  },
});

export const listTodos = defineTool({
  name: "list_todos",
  description:
    "List the caller's todos (their own, assigned to them, and their teams'), at most 20, soonest due first.",
  input: z.object({
    status: z.enum(["open", "done", "all"]).default("open"),
    due_from: TimeInput.optional(),
    due_to: TimeInput.optional(),
    priority: Priority.optional(),
    team: z.string().max(100).optional(),
    assigned_to_me: z.boolean().optional(),
  }),
  async run(input, ctx) {
    const memberships = await myMemberships(ctx);
    const filters: SQL[] = [visibleTodos(ctx, memberships)];
    if (input.status !== "all") filters.push(eq(todos.completed, input.status === "done"));
    if (input.due_from)
      filters.push(gte(todos.dueAt, parseTime(input.due_from, ctx.user.timezone)));
    if (input.due_to)
      filters.push(
        lte(todos.dueAt, parseTime(input.due_to, ctx.user.timezone, { endOfDay: true })),
      );
    if (input.priority) filters.push(eq(todos.priority, input.priority));
    if (input.team) filters.push(eq(todos.teamId, teamByName(memberships, input.team).teamId));
    if (input.assigned_to_me) filters.push(eq(todos.assigneeId, ctx.user.id));
    const rows = await ctx.db
      .select({ todo: todos, assignee: users.name })
      .from(todos)
      .leftJoin(users, eq(users.id, todos.assigneeId))
      .where(and(...filters))
      .orderBy(sql`${todos.dueAt} asc nulls last`, asc(todos.createdAt))
      .limit(21);
    // Nothing found: the page's own line for a lookup says so ("Looked up todos").
    if (rows.length === 0) return ok("No todos match.");
    const shown = rows.slice(0, 20);
    const teamName = (id: string | null) =>
      memberships.find((m) => m.teamId === id)?.teamName ?? null;
    const lines = shown.map((r) =>
      describeTodo(r.todo, ctx, { assignee: r.assignee, team: teamName(r.todo.teamId) }),
    );
    const more = rows.length > 20 ? "\n(More todos exist; narrow the filters to see them.)" : "";
    // What the caller's page shows for the lookup: what was looked at, and how much was found.
    const kind = input.status === "all" ? "" : `${input.status} `;
    const found = `${rows.length > 20 ? "More than 20" : shown.length} ${kind}todo${shown.length === 1 ? "" : "s"}`;
    return ok(
      `${shown.length} todo${shown.length === 1 ? "" : "s"}:\n${lines.join("\n")}${more}`,
      `Checked your list: ${found}`,
    );
  },
});

export const updateTodo = defineTool({
  name: "update_todo",
  description:
    "Change a todo's title, description, priority, due date or assignee (reassigning a todo to someone is done here, not by a call transfer).",
  input: z.object({
    id: TodoId,
    title: z.string().trim().min(1).max(200).optional(),
    description: z.string().max(2000).optional(),
    priority: Priority.optional(),
    due: TimeInput.nullable().optional().describe("New due date/time, or null to clear it"),
    assignee: z.string().max(100).optional(),
  }),
  async run(input, ctx) {
    const memberships = await myMemberships(ctx);
    const row = await findVisibleTodo(ctx, memberships, input.id);
    if (!row) return fail(NOT_FOUND);
    if (!mayChange(ctx, memberships, row)) return fail("Viewers can't change this team's todos.");
    const changes: Partial<typeof todos.$inferInsert> = { updatedAt: new Date() };
    if (input.title !== undefined) changes.title = input.title;
    if (input.description !== undefined) changes.description = input.description;
    if (input.priority !== undefined) changes.priority = input.priority;
    if (input.due !== undefined) {
      changes.dueAt =
        input.due === null ? null : parseTime(input.due, ctx.user.timezone, { endOfDay: true });
    }
    let assigneeName: string | undefined;
    if (input.assignee !== undefined) {
      const team = memberships.find((m) => m.teamId === row.teamId);
      if (!team && !isSelf(ctx, input.assignee)) {
        return fail(
          "Only team todos can be assigned to someone else. Say which team it belongs to.",
        );
      }
      const who = await resolveAssignee(ctx, memberships, input.assignee, team);
      changes.assigneeId = who.assigneeId;
      assigneeName = who.assigneeName;
    }
    const [updated] = await ctx.db
      .update(todos)
      .set(changes)
      .where(eq(todos.id, row.id))
      .returning();
    if (!updated) return fail(NOT_FOUND);
    const what = assigneeName
      ? `Gave '${updated.title}' to ${assigneeName}`
      : `Updated '${updated.title}'`;
    return ok(`Updated: ${describeTodo(updated, ctx, { assignee: assigneeName })}`, what);
  },
});

export const completeTodo = defineTool({
  name: "complete_todo",
  description: "Mark a todo done (or not done again with completed: false).",
  input: z.object({ id: TodoId, completed: z.boolean().default(true) }),
  async run(input, ctx) {
    const memberships = await myMemberships(ctx);
    const row = await findVisibleTodo(ctx, memberships, input.id);
    if (!row) return fail(NOT_FOUND);
    if (!mayChange(ctx, memberships, row)) return fail("Viewers can't change this team's todos.");
    await ctx.db
      .update(todos)
      .set({
        completed: input.completed,
        completedAt: input.completed ? ctx.now : null,
        updatedAt: new Date(),
      })
      .where(eq(todos.id, row.id));
    return input.completed
      ? ok(`Marked "${row.title}" done.`, `Completed '${row.title}'`)
      : ok(`Marked "${row.title}" open again.`, `Reopened '${row.title}'`);
  },
});

export const deleteTodo = defineTool({
  name: "delete_todo",
  description:
    "Delete a todo. Only after the caller has confirmed. Its creator or a team owner/admin may delete it.",
  input: z.object({ id: TodoId }),
  async run(input, ctx) {
    const memberships = await myMemberships(ctx);
    const row = await findVisibleTodo(ctx, memberships, input.id);
    if (!row) return fail(NOT_FOUND);
    const role = memberships.find((m) => m.teamId === row.teamId)?.role;
    if (row.creatorId !== ctx.user.id && !(role && canManage(role))) {
      return fail("Only the person who created it or a team owner or admin can delete this todo.");
    }
    await ctx.db.delete(todos).where(eq(todos.id, row.id));
    return ok(`Deleted "${row.title}".`, `Deleted '${row.title}'`);
  },
});

export const TODO_TOOLS = [createTodo, listTodos, updateTodo, completeTodo, deleteTodo];
