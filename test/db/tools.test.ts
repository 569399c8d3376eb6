/**
 * The agent's tools against real Postgres (embedded, real migrations, Neon's HTTP driver),
 * called the way the agent calls them: through runTool with the model's raw input.
 */
import type { PGlite } from "@electric-sql/pglite";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { runTool, TOOLS, toAnthropicTools } from "../../agent/tools/index.ts";
import { parseTime, speakTime, zoneOffsetMinutes } from "../../agent/tools/time.ts";
import { type AgentTool, defineTool, ok, type ToolContext } from "../../agent/tools/types.ts";
import { openEmbeddedPostgres } from "../../scripts/embedded-postgres.ts";
import {
  localConnectionString,
  type NeonHttpServer,
  startNeonHttpServer,
} from "../../scripts/neon-http-server.ts";
import { pgliteBackend } from "../../scripts/sql-backends.ts";
import { createDatabase, type Database } from "../../worker/db/client.ts";
import {
  calendarEvents,
  reminders,
  teamMemberships,
  teams,
  todos,
  users,
} from "../../worker/db/schema.ts";

let pg: PGlite;
let server: NeonHttpServer;
let db: Database;
const NOW = new Date("2026-11-24T15:00:00Z");

beforeAll(async () => {
  pg = await openEmbeddedPostgres();
  server = await startNeonHttpServer({ backend: pgliteBackend(pg), password: "tools" });
  db = createDatabase({
    DATABASE_URL: localConnectionString("tools", server.port),
    NEON_FETCH_ENDPOINT: server.url,
  });
});
afterAll(async () => {
  await server.close();
  await pg.close();
});

async function makeUser(name: string, timezone = "America/New_York") {
  const [user] = await db
    .insert(users)
    .values({ name, email: `${crypto.randomUUID()}@t.dev`, timezone, pinHash: crypto.randomUUID() })
    .returning();
  if (!user) throw new Error("no user");
  const transfers: { department: string; reason: string }[] = [];
  const ctx: ToolContext = {
    db,
    user: { id: user.id, name: user.name, timezone },
    sessionId: `s-${user.id}`,
    now: NOW,
    signal: new AbortController().signal,
    requestTransfer: async (r) => {
      transfers.push(r);
      return { ok: true, department: r.department, agentName: "Pat Lee", extension: "2001" };
    },
  };
  return { user, ctx, transfers };
}

async function makeTeam(
  members: [{ user: { id: string } }, "owner" | "admin" | "member" | "viewer"][],
) {
  const [team] = await db
    .insert(teams)
    .values({ name: `Team ${crypto.randomUUID().slice(0, 6)}` })
    .returning();
  if (!team) throw new Error("no team");
  for (const [m, role] of members)
    await db.insert(teamMemberships).values({ teamId: team.id, userId: m.user.id, role });
  return team;
}

const call = (ctx: ToolContext, name: string, input: unknown) => runTool(name, input, ctx);

describe("todos", () => {
  it("creates with a due date read in the caller's zone, lists, updates and completes", async () => {
    const a = await makeUser("Ann Lee");
    const created = await call(a.ctx, "create_todo", {
      title: "Renew the domain",
      priority: "high",
      due: "2026-11-27",
    });
    expect(created).toMatchObject({
      ok: true,
      activity: "Added 'Renew the domain' due Fri 27 Nov",
    });
    const [row] = await db.select().from(todos).where(eq(todos.creatorId, a.user.id));
    // A bare date is due at the end of that day in New York.
    expect(row?.dueAt?.toISOString()).toBe("2026-11-28T04:59:00.000Z");
    if (!row) throw new Error("no row");

    const listed = await call(a.ctx, "list_todos", {
      due_from: "2026-11-24",
      due_to: "2026-11-30",
    });
    expect(listed.ok && listed.content).toContain("Renew the domain");
    const none = await call(a.ctx, "list_todos", { due_to: "2026-11-25" });
    expect(none).toEqual({ ok: true, content: "No todos match." });

    expect(
      await call(a.ctx, "update_todo", { id: row.id, due: "2026-11-30T09:00:00" }),
    ).toMatchObject({ ok: true });
    const [moved] = await db.select().from(todos).where(eq(todos.id, row.id));
    expect(moved?.dueAt?.toISOString()).toBe("2026-11-30T14:00:00.000Z");

    expect(await call(a.ctx, "complete_todo", { id: row.id })).toMatchObject({ ok: true });
    const open = await call(a.ctx, "list_todos", {});
    expect(open.ok && open.content).toBe("No todos match.");
    const done = await call(a.ctx, "list_todos", { status: "done" });
    expect(done.ok && done.content).toContain("Renew the domain");
  });

  it("assigns to teammates by name; a viewer cannot; ambiguous names ask back", async () => {
    const owner = await makeUser("Olga Owner");
    const sam = await makeUser("Sam Rivera");
    const sam2 = await makeUser("Samantha Cole");
    const viewer = await makeUser("Vic Viewer");
    const team = await makeTeam([
      [owner, "owner"],
      [sam, "member"],
      [sam2, "member"],
      [viewer, "viewer"],
    ]);
    const ambiguous = await call(owner.ctx, "create_todo", { title: "x", assignee: "sam" });
    expect(ambiguous).toEqual({
      ok: false,
      error: 'More than one teammate matches "sam": Sam Rivera, Samantha Cole.',
    });
    const given = await call(owner.ctx, "create_todo", {
      title: "Rotate keys",
      assignee: "sam rivera",
    });
    expect(given).toMatchObject({ ok: true, activity: "Added 'Rotate keys' for Sam Rivera" });
    const [row] = await db.select().from(todos).where(eq(todos.title, "Rotate keys"));
    expect(row).toMatchObject({ assigneeId: sam.user.id, teamId: team.id });

    const refused = await call(viewer.ctx, "create_team_todo", {
      team: team.name,
      title: "y",
      assignee: "Sam Rivera",
    });
    expect(refused).toEqual({
      ok: false,
      error: `Viewers can't assign or add todos in ${team.name}.`,
    });
    if (!row) throw new Error("no row");
    expect(await call(viewer.ctx, "update_todo", { id: row.id, title: "z" })).toEqual({
      ok: false,
      error: "Viewers can't change this team's todos.",
    });
    // The assignee may complete it; only the creator or an owner/admin may delete it.
    expect(await call(sam.ctx, "complete_todo", { id: row.id })).toMatchObject({ ok: true });
    expect(await call(sam.ctx, "delete_todo", { id: row.id })).toMatchObject({ ok: false });
    expect(await call(owner.ctx, "delete_todo", { id: row.id })).toMatchObject({ ok: true });
  });

  it("reassigning a todo is update_todo, never a transfer", async () => {
    const owner = await makeUser("Rae Owner");
    const bob = await makeUser("Bob Okafor");
    const team = await makeTeam([
      [owner, "owner"],
      [bob, "member"],
    ]);
    await call(owner.ctx, "create_todo", { title: "Ship it", team: team.name });
    const [row] = await db.select().from(todos).where(eq(todos.teamId, team.id));
    if (!row) throw new Error("no row");
    expect(await call(owner.ctx, "update_todo", { id: row.id, assignee: "Bob" })).toMatchObject({
      ok: true,
      activity: "Gave 'Ship it' to Bob Okafor",
    });
    expect(owner.transfers).toEqual([]);
  });
});

describe("isolation", () => {
  it("another user's rows are 'not found' to every tool, and stay unchanged", async () => {
    const a = await makeUser("Alpha");
    const b = await makeUser("Bravo");
    await call(b.ctx, "create_todo", { title: "B private" });
    await call(b.ctx, "create_reminder", {
      message: "B reminder",
      remind_at: "2026-12-01T10:00:00Z",
    });
    await call(b.ctx, "create_event", { title: "B event", starts_at: "2026-12-01T10:00:00Z" });
    const [todo] = await db.select().from(todos).where(eq(todos.creatorId, b.user.id));
    const [reminder] = await db.select().from(reminders).where(eq(reminders.userId, b.user.id));
    const [event] = await db
      .select()
      .from(calendarEvents)
      .where(eq(calendarEvents.ownerId, b.user.id));
    if (!todo || !reminder || !event) throw new Error("setup failed");

    const attempts: [string, object][] = [
      ["update_todo", { id: todo.id, title: "pwned" }],
      ["complete_todo", { id: todo.id }],
      ["delete_todo", { id: todo.id }],
      ["update_reminder", { id: reminder.id, message: "pwned" }],
      ["delete_reminder", { id: reminder.id }],
      ["update_event", { id: event.id, title: "pwned" }],
      ["delete_event", { id: event.id }],
      ["create_reminder", { message: "link", remind_at: "2026-12-01", todo_id: todo.id }],
    ];
    for (const [name, input] of attempts) {
      const result = await call(a.ctx, name, input);
      expect(result, name).toMatchObject({ ok: false, error: expect.stringMatching(/not found/i) });
    }
    for (const [name, input] of [
      ["list_todos", { status: "all" }],
      ["list_reminders", { include_past: true, include_dismissed: true }],
      ["list_events", { from: "2026-11-01", to: "2027-01-01" }],
    ] as const) {
      const result = await call(a.ctx, name, input);
      expect(result.ok && result.content, name).not.toMatch(/B private|B reminder|B event/);
    }
    expect(await call(a.ctx, "list_team_members", { team: "anything" })).toMatchObject({
      ok: false,
    });
    const [still] = await db.select().from(todos).where(eq(todos.id, todo.id));
    expect(still).toMatchObject({ title: "B private", completed: false });
    expect(
      (await db.select().from(reminders).where(eq(reminders.id, reminder.id)))[0]?.message,
    ).toBe("B reminder");
    expect(
      (await db.select().from(calendarEvents).where(eq(calendarEvents.id, event.id)))[0]?.title,
    ).toBe("B event");
  });

  it("team rows are visible to members only", async () => {
    const m = await makeUser("Member");
    const outsider = await makeUser("Outsider");
    const team = await makeTeam([[m, "member"]]);
    await call(m.ctx, "create_todo", { title: "Team plan", team: team.name });
    const seen = await call(m.ctx, "list_todos", { team: team.name });
    expect(seen.ok && seen.content).toContain("Team plan");
    expect(await call(outsider.ctx, "list_todos", { team: team.name })).toMatchObject({
      ok: false,
    });
    const all = await call(outsider.ctx, "list_todos", { status: "all" });
    expect(all.ok && all.content).not.toContain("Team plan");
  });
});

describe("calendar and reminders", () => {
  it("reports overlaps on create and update, and keeps the length when moving", async () => {
    const a = await makeUser("Cal User", "Europe/London");
    await call(a.ctx, "create_event", {
      title: "Stand-up",
      starts_at: "2026-12-02T09:00",
      duration_minutes: 30,
    });
    const clash = await call(a.ctx, "create_event", {
      title: "Dentist",
      starts_at: "2026-12-02T09:15",
      ends_at: "2026-12-02T10:00",
    });
    expect(clash.ok && clash.content).toMatch(/overlaps "Stand-up"/);
    const [dentist] = await db
      .select()
      .from(calendarEvents)
      .where(eq(calendarEvents.title, "Dentist"));
    if (!dentist) throw new Error("no event");
    const moved = await call(a.ctx, "update_event", {
      id: dentist.id,
      starts_at: "2026-12-02T11:00",
    });
    expect(moved.ok && moved.content).not.toMatch(/overlaps/);
    const [after] = await db.select().from(calendarEvents).where(eq(calendarEvents.id, dentist.id));
    expect(after?.endsAt.getTime()).toBe(new Date("2026-12-02T11:45:00Z").getTime());
    expect(
      await call(a.ctx, "create_event", {
        title: "x",
        starts_at: "2026-12-02T11:00",
        ends_at: "2026-12-02T10:00",
      }),
    ).toEqual({
      ok: false,
      error: "The event must end after it starts.",
    });
  });

  it("reminders: create, list upcoming, dismiss, delete", async () => {
    const a = await makeUser("Rem User");
    await call(a.ctx, "create_reminder", { message: "Past", remind_at: "2026-11-01T10:00:00Z" });
    const created = await call(a.ctx, "create_reminder", {
      message: "Call the registrar",
      remind_at: "2026-11-25T10:00:00-05:00",
    });
    expect(created).toMatchObject({ ok: true, activity: "Reminder set for Wed 25 Nov, 10:00 am" });
    const upcoming = await call(a.ctx, "list_reminders", {});
    expect(upcoming.ok && upcoming.content).toContain("Call the registrar");
    expect(upcoming.ok && upcoming.content).not.toContain("Past");
    const [row] = await db
      .select()
      .from(reminders)
      .where(eq(reminders.message, "Call the registrar"));
    if (!row) throw new Error("no reminder");
    await call(a.ctx, "update_reminder", { id: row.id, dismissed: true });
    expect(await call(a.ctx, "list_reminders", {})).toEqual({
      ok: true,
      content: "No reminders match.",
    });
    expect(await call(a.ctx, "delete_reminder", { id: row.id })).toMatchObject({ ok: true });
  });
});

describe("transfer", () => {
  it("lists departments and records a transfer request only for a known department", async () => {
    const a = await makeUser("Transfer User");
    const { humanAgents } = await import("../../worker/db/schema.ts");
    const tag = crypto.randomUUID().slice(0, 6);
    await db
      .insert(humanAgents)
      .values({ name: "Pat", login: `pat-${tag}`, sipExtension: `7${tag}`, department: "billing" });
    const departments = await call(a.ctx, "list_departments", {});
    expect(departments.ok && departments.content).toMatch(/billing \(\d+ agents?\)/);
    expect(
      await call(a.ctx, "transfer_to_agent", { department: "astrology", reason: "x" }),
    ).toMatchObject({ ok: false });
    const done = await call(a.ctx, "transfer_to_agent", {
      department: "Billing",
      reason: "Card was charged twice",
    });
    expect(done.ok && done.content).toMatch(/Calling Pat Lee in billing now/);
    expect(a.transfers).toEqual([{ department: "billing", reason: "Card was charged twice" }]);
    // The session says transfer is not set up: the model is told to say so plainly.
    a.ctx.requestTransfer = async () => ({
      ok: false,
      reason: "not_configured",
      message: "Transfer to a person is not set up on this server.",
    });
    const refused = await call(a.ctx, "transfer_to_agent", { department: "billing", reason: "x" });
    expect(refused.ok && refused.content).toMatch(/not set up/);
  });
});

describe("runTool", () => {
  const slow: AgentTool = defineTool({
    name: "slow",
    description: "sleeps",
    input: z.object({ ms: z.number() }),
    run: async (input) => {
      await new Promise((resolve) => setTimeout(resolve, input.ms));
      return ok("slept");
    },
  });
  const broken: AgentTool = defineTool({
    name: "broken",
    description: "throws",
    input: z.object({}),
    run: async () => {
      throw new Error("Failed query: select secret from vault\nparams: 1234");
    },
  });

  it("validates input, refuses unknown tools, stops slow tools and hides internals", async () => {
    const { ctx } = await makeUser("Runner");
    expect(await runTool("nope", {}, ctx)).toEqual({
      ok: false,
      error: "There is no tool called nope.",
    });
    expect(await runTool("create_todo", { title: 42 }, ctx)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^Invalid input for create_todo\. title: /),
    });
    expect(await runTool("complete_todo", { id: "not-a-uuid" }, ctx)).toMatchObject({ ok: false });
    expect(await runTool("slow", { ms: 500 }, ctx, { tools: [slow], timeoutMs: 50 })).toEqual({
      ok: false,
      error: "The slow tool took too long and was stopped.",
    });
    expect(await runTool("slow", { ms: 1 }, ctx, { tools: [slow] })).toEqual({
      ok: true,
      content: "slept",
    });
    const hidden = await runTool("broken", {}, ctx, { tools: [broken] });
    expect(hidden).toEqual({
      ok: false,
      error: "The broken tool hit a problem: the database did not answer.",
    });
    const aborted = new AbortController();
    aborted.abort();
    expect(
      await runTool("slow", { ms: 1 }, { ...ctx, signal: aborted.signal }, { tools: [slow] }),
    ).toMatchObject({
      ok: false,
    });
  });

  it("describes every tool to Claude as an object schema", () => {
    const specs = toAnthropicTools(TOOLS);
    expect(specs.map((s) => s.name)).toContain("transfer_to_agent");
    expect(specs.map((s) => s.name)).not.toContain("sql");
    for (const spec of specs) {
      expect(spec.input_schema.type).toBe("object");
      expect(spec.input_schema).not.toHaveProperty("$schema");
      expect(spec.description.length).toBeGreaterThan(20);
    }
  });
});

describe("time", () => {
  it("reads dates and local times in the caller's zone, across DST", () => {
    expect(parseTime("2026-07-01T09:00", "America/New_York").toISOString()).toBe(
      "2026-07-01T13:00:00.000Z",
    );
    expect(parseTime("2026-12-01T09:00", "America/New_York").toISOString()).toBe(
      "2026-12-01T14:00:00.000Z",
    );
    expect(parseTime("2026-12-01T09:00:00+01:00", "America/New_York").toISOString()).toBe(
      "2026-12-01T08:00:00.000Z",
    );
    expect(parseTime("2026-03-08", "America/New_York").toISOString()).toBe(
      "2026-03-08T13:00:00.000Z",
    );
    expect(() => parseTime("next tuesday", "UTC")).toThrow(/not a date/);
    expect(zoneOffsetMinutes(new Date("2026-07-01T00:00:00Z"), "Asia/Kolkata")).toBe(330);
    expect(speakTime(new Date("2026-11-27T20:00:00Z"), "America/New_York")).toMatch(
      /Fri,? 27 Nov,? 3:00\s?pm/,
    );
  });
});
