/**
 * `DATABASE_URL` pointing at a plain Postgres: Debian's PostgreSQL, started here on a port of
 * this test's own, migrated and served to Neon's driver the way `npm start` does it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { count, sql } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/app-process.ts";
import { servePostgres } from "../../scripts/local-postgres.ts";
import { localConnectionString } from "../../scripts/neon-http-server.ts";
import { DEMO_USERS, seedDemoData } from "../../scripts/seed.ts";
import { createDatabase, type Database } from "../../worker/db/client.ts";
import { teams, users } from "../../worker/db/schema.ts";
import { findActiveUserByPinHash } from "../../worker/db/users.ts";
import { hashPin } from "../../worker/pin-hash.ts";

const PG_ROOT = "/usr/lib/postgresql";
const version = existsSync(PG_ROOT) ? readdirSync(PG_ROOT).sort().at(-1) : undefined;
const bin = version ? join(PG_ROOT, version, "bin") : undefined;
if (!bin)
  console.warn(
    `PostgreSQL not found under ${PG_ROOT}: install Debian's postgresql to run this test.`,
  );

const SECRET = "pg-test-secret-0123456789abcdef";

/** Postgres refuses to run as root: as root, run its programs as the `postgres` user. */
function asPostgres(program: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0
    ? ["runuser", ["-u", "postgres", "--", program, ...args]]
    : [program, args];
}

describe.skipIf(!bin)("plain Postgres behind the local Neon-protocol server", () => {
  const dir = mkdtempSync(join(tmpdir(), "convonet-pg-"));
  let postgres: ChildProcess | undefined;
  let served: Awaited<ReturnType<typeof servePostgres>>;
  let db: Database;

  beforeAll(async () => {
    if (!bin) return;
    chmodSync(dir, 0o777);
    const data = join(dir, "data");
    execFileSync(
      ...asPostgres(join(bin, "initdb"), [
        "-D",
        data,
        "-A",
        "trust",
        "-U",
        "postgres",
        "--no-sync",
      ]),
      {
        stdio: "ignore",
      },
    );
    const port = await freePort();
    postgres = spawn(
      ...asPostgres(join(bin, "postgres"), [
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        dir,
        "-h",
        "127.0.0.1",
        "-c",
        "fsync=off",
      ]),
      { stdio: "ignore" },
    );
    const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    for (let i = 0; ; i++) {
      const client = new pg.Client({ connectionString: url });
      client.on("error", () => undefined);
      try {
        await client.connect();
        await client.end();
        break;
      } catch (error) {
        if (i > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    served = await servePostgres(url, { password: "pg-test" });
    db = createDatabase({
      DATABASE_URL: localConnectionString("pg-test", served.server.port),
      NEON_FETCH_ENDPOINT: served.server.url,
    });
  }, 60_000);

  afterAll(async () => {
    await served?.close();
    if (postgres && postgres.exitCode === null && bin) {
      const exited = new Promise((resolve) => postgres?.once("exit", resolve));
      // pg_ctl, not a signal to our child: as root that child is runuser, which does not pass it on.
      execFileSync(
        ...asPostgres(join(bin, "pg_ctl"), ["-D", join(dir, "data"), "stop", "-m", "fast", "-w"]),
        {
          stdio: "ignore",
        },
      );
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it("is migrated and seeded once, however often it runs", async () => {
    await seedDemoData(db, SECRET);
    await seedDemoData(db, SECRET);
    const [{ n } = { n: 0 }] = await db.select({ n: count() }).from(users);
    expect(n).toBe(DEMO_USERS.length);
    const alice = await findActiveUserByPinHash(db, await hashPin("1234", SECRET));
    expect(alice?.name).toBe("Alice Nguyen");
    expect(alice?.teams.map((t) => t.name).sort()).toEqual(["Marketing", "Operations"]);
  });

  it("runs a batch atomically and concurrent queries correctly", async () => {
    await expect(
      db.batch([
        db.insert(teams).values({ name: "Batch" }),
        db.insert(teams).values({ name: "Operations" }),
      ]),
    ).rejects.toThrow();
    const names = (await db.select({ name: teams.name }).from(teams)).map((t) => t.name);
    expect(names).not.toContain("Batch");
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        db.execute<{ v: string }>(sql`select ${i}::int * 2 as v`).then((r) => Number(r.rows[0]?.v)),
      ),
    );
    expect(results).toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
  });
});
