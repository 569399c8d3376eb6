import type { PGlite } from "@electric-sql/pglite";
import { count, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbeddedPostgres } from "../../scripts/embedded-postgres.ts";
import {
  localConnectionString,
  type NeonHttpServer,
  startNeonHttpServer,
} from "../../scripts/neon-http-server.ts";
import { DEMO_USERS, seedDemoData } from "../../scripts/seed.ts";
import { pgliteBackend } from "../../scripts/sql-backends.ts";
import { createDatabase, type Database } from "../../worker/db/client.ts";
import {
  calendarEvents,
  callSessions,
  humanAgents,
  reminders,
  teamMemberships,
  teams,
  todos,
  transcriptTurns,
  users,
} from "../../worker/db/schema.ts";
import {
  addTranscriptTurnMetrics,
  recordTranscriptTurns,
  type TranscriptTurn,
} from "../../worker/db/transcripts.ts";
import { findActiveUserByPinHash } from "../../worker/db/users.ts";
import { hashPin } from "../../worker/pin-hash.ts";

const SECRET = "db-test-secret-0123456789abcdef";
let pg: PGlite;
let server: NeonHttpServer;
let db: Database;

beforeAll(async () => {
  pg = await openEmbeddedPostgres();
  server = await startNeonHttpServer({ backend: pgliteBackend(pg), password: "db-test" });
  // The production driver (neon() over HTTP) against the embedded Postgres.
  db = createDatabase({
    DATABASE_URL: localConnectionString("db-test", server.port),
    NEON_FETCH_ENDPOINT: server.url,
  });
});

afterAll(async () => {
  await server.close();
  await pg.close();
});

describe("migrations", () => {
  it("create every table of the schema", async () => {
    const result = await pg.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' order by 1",
    );
    expect(result.rows.map((r) => r.table_name)).toEqual([
      "agent_calls",
      "agent_sessions",
      "calendar_events",
      "call_sessions",
      "human_agents",
      "reminders",
      "team_memberships",
      "teams",
      "todos",
      "transcript_turns",
      "transfers",
      "users",
    ]);
  });

  it("index the PIN hash uniquely, so sign-in is one indexed lookup", async () => {
    const result = await pg.query<{ indexdef: string }>(
      "select indexdef from pg_indexes where tablename = 'users' and indexname = 'users_pin_hash_key'",
    );
    expect(result.rows[0]?.indexdef).toMatch(/UNIQUE INDEX .* \(pin_hash\)/);
  });
});

describe("seed", () => {
  it("is idempotent: seeding twice adds nothing", async () => {
    const counts = async () =>
      Promise.all(
        [users, teams, teamMemberships, todos, reminders, calendarEvents, humanAgents].map(
          async (table) => (await db.select({ n: count() }).from(table))[0]?.n,
        ),
      );
    await seedDemoData(db, SECRET);
    const first = await counts();
    await seedDemoData(db, SECRET);
    expect(await counts()).toEqual(first);
    expect(first[0]).toBeGreaterThanOrEqual(2);
  });

  it("stores PINs only as keyed hashes, and the demo PINs sign in", async () => {
    await seedDemoData(db, SECRET);
    const stored = await db.select({ pinHash: users.pinHash }).from(users);
    for (const { pin } of DEMO_USERS) {
      expect(stored.some((u) => u.pinHash === pin)).toBe(false);
    }
    const alice = await findActiveUserByPinHash(db, await hashPin("1234", SECRET));
    expect(alice?.name).toBe("Alice Nguyen");
    expect(alice?.teams.map((t) => t.name)).toContain("Operations");
    const bob = await findActiveUserByPinHash(db, await hashPin("5678", SECRET));
    expect(bob?.teams.some((t) => alice?.teams.some((a) => a.id === t.id))).toBe(true);
    expect(await findActiveUserByPinHash(db, await hashPin("0000", SECRET))).toBeNull();
  });

  it("re-hashes PINs when the secret changes", async () => {
    const other = "another-secret-0123456789abcdef";
    await seedDemoData(db, other);
    expect((await findActiveUserByPinHash(db, await hashPin("1234", other)))?.name).toBe(
      "Alice Nguyen",
    );
    expect(await findActiveUserByPinHash(db, await hashPin("1234", SECRET))).toBeNull();
    await seedDemoData(db, SECRET);
  });
});

/** Alice of the demo data, with a call session `id` of hers (rows that belong to a session). */
async function demoUserWithSession(id: string) {
  await seedDemoData(db, SECRET);
  const [alice] = await db.select().from(users).where(eq(users.email, "alice@demo.convonet.dev"));
  if (!alice) throw new Error("no alice");
  await db.insert(callSessions).values({ id, userId: alice.id });
  return alice;
}

describe("Neon HTTP protocol in front of PGlite", () => {
  it("round-trips types exactly as Neon does", async () => {
    const due = new Date("2026-12-24T15:30:00.000Z");
    const alice = await demoUserWithSession("s-types");
    const [turn] = await db
      .insert(transcriptTurns)
      .values({
        sessionId: "s-types",
        seq: 1,
        role: "assistant",
        text: 'Grüße — 你好 "quoted" \\ back',
        toolCalls: [{ name: "create_todo", input: { title: "x", n: 1.5, ok: true } }],
        metrics: null,
      })
      .returning();
    expect(turn?.text).toBe('Grüße — 你好 "quoted" \\ back');
    expect(turn?.toolCalls).toEqual([
      { name: "create_todo", input: { title: "x", n: 1.5, ok: true } },
    ]);
    expect(turn?.metrics).toBeNull();
    expect(turn?.seq).toBe(1);
    const [todo] = await db
      .insert(todos)
      .values({
        title: "typed",
        creatorId: alice.id,
        dueAt: due,
        completed: true,
        priority: "urgent",
      })
      .returning();
    expect(todo?.dueAt).toEqual(due);
    expect(todo?.completed).toBe(true);
    expect(todo?.priority).toBe("urgent");
    const [{ now } = { now: null }] = await db
      .execute<{ now: string }>(sql`select now()::text as now`)
      .then((r) => r.rows);
    expect(now).toMatch(/^\d{4}-\d\d-\d\d /);
  });

  it("answers concurrent parameterized queries correctly", async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        db.execute<{ v: number }>(sql`select ${i}::int + 1 as v`).then((r) => Number(r.rows[0]?.v)),
      ),
    );
    expect(results).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it("runs a batch as one transaction: a failure rolls back the whole batch", async () => {
    const before = (await db.select({ n: count() }).from(teams))[0]?.n;
    await expect(
      db.batch([
        db.insert(teams).values({ name: "Batch A" }),
        db.insert(teams).values({ name: "Operations" }), // duplicate name
      ]),
    ).rejects.toThrow();
    expect((await db.select({ n: count() }).from(teams))[0]?.n).toBe(before);
  });

  it("reports Postgres errors with their SQLSTATE", async () => {
    const error = await db
      .insert(teams)
      .values({ name: "Operations" })
      .catch((e: unknown) => e);
    expect((error as Error & { cause?: { code?: string } }).cause?.code).toBe("23505");
  });

  it("refuses a connection string with the wrong password", async () => {
    const intruder = createDatabase({
      DATABASE_URL: localConnectionString("wrong", server.port),
      NEON_FETCH_ENDPOINT: server.url,
    });
    const error = await intruder
      .select()
      .from(users)
      .catch((e: unknown) => e);
    expect(String((error as Error).cause)).toMatch(/HTTP status 401/);
  });
});

describe("transcript rows", () => {
  it("are written once per turn, their JSON as JSON and a missing one as SQL NULL", async () => {
    await demoUserWithSession("s-rows");
    const toolCalls = [{ name: "create_todo", input: { title: "milk", n: 2 }, ok: true }];
    expect(
      await recordTranscriptTurns(db, [
        {
          sessionId: "s-rows",
          seq: 1,
          role: "assistant",
          text: "Added milk.",
          toolCalls,
          metrics: { llmTtftMs: 412, speculative: false, ttsTtfbMs: null },
        },
      ]),
    ).toBe(true);
    expect(
      await recordTranscriptTurns(db, [
        { sessionId: "s-rows", seq: 2, role: "user", text: "Thanks" },
      ]),
    ).toBe(true);
    // The same turn again (a retry after a lost answer): nothing is added or changed.
    await recordTranscriptTurns(db, [{ sessionId: "s-rows", seq: 2, role: "user", text: "again" }]);
    await addTranscriptTurnMetrics(db, "s-rows", 2, { endToEndPlayedMs: 640 });
    const rows = await db
      .select()
      .from(transcriptTurns)
      .where(eq(transcriptTurns.sessionId, "s-rows"))
      .orderBy(transcriptTurns.seq);
    expect(rows.map((r) => [r.seq, r.role, r.text, r.toolCalls, r.metrics])).toEqual([
      [
        1,
        "assistant",
        "Added milk.",
        toolCalls,
        { llmTtftMs: 412, speculative: false, ttsTtfbMs: null },
      ],
      [2, "user", "Thanks", null, { endToEndPlayedMs: 640 }],
    ]);
    const nulls = await pg.query<{ n: number }>(
      "select count(*)::int as n from transcript_turns where session_id = 's-rows' and tool_calls is null",
    );
    expect(nulls.rows[0]?.n).toBe(1);
  });

  it("a turn's two rows go in one statement, and a retry of it adds neither again", async () => {
    await demoUserWithSession("s-pair");
    const pair: TranscriptTurn[] = [
      { sessionId: "s-pair", seq: 1, role: "user", text: "Add milk" },
      {
        sessionId: "s-pair",
        seq: 2,
        role: "assistant",
        text: "Added.",
        metrics: { interrupted: false },
      },
    ];
    expect(await recordTranscriptTurns(db, pair)).toBe(true);
    // A retry whose first answer was lost, with a row of it already there.
    expect(
      await recordTranscriptTurns(db, [
        { sessionId: "s-pair", seq: 1, role: "user", text: "again" },
        { sessionId: "s-pair", seq: 3, role: "user", text: "Thanks" },
      ]),
    ).toBe(true);
    const rows = await db
      .select()
      .from(transcriptTurns)
      .where(eq(transcriptTurns.sessionId, "s-pair"))
      .orderBy(transcriptTurns.seq);
    expect(rows.map((r) => [r.seq, r.role, r.text, r.toolCalls, r.metrics])).toEqual([
      [1, "user", "Add milk", null, null],
      [2, "assistant", "Added.", null, { interrupted: false }],
      [3, "user", "Thanks", null, null],
    ]);
  });
});
