/**
 * `npm start`: the whole app on one machine, no cloud account.
 *
 *   1. Postgres: DATABASE_URL if set — a Neon database used directly, or a plain Postgres
 *      served to the Worker through a local Neon-protocol server — else an embedded Postgres
 *      (PGlite, kept in .data/pglite) served the same way.
 *   2. Migrations applied, demo data seeded (idempotent).
 *   3. `wrangler dev` on 127.0.0.1, then the caller page's URL and the demo PINs are printed.
 *
 * Ctrl-C stops everything it started.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createDatabase } from "../worker/db/client.ts";
import { MIN_PIN_SECRET_LENGTH } from "../worker/pin-hash.ts";
import { startDashboardSide } from "./dashboard-start.ts";
import { openEmbeddedPostgres } from "./embedded-postgres.ts";
import { servePostgres, speaksNeonHttp } from "./local-postgres.ts";
import { localConnectionString, startNeonHttpServer } from "./neon-http-server.ts";
import { migrateNeon } from "./neon-migrate.ts";
import { DEMO_USERS, seedDemoData } from "./seed.ts";
import { pgliteBackend } from "./sql-backends.ts";
import { startWranglerDev, waitForHealth } from "./wrangler-dev.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DEV_VARS = join(ROOT, ".dev.vars");

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: process.env.PORT ?? "8787" },
    "inspector-port": { type: "string", default: "9229" },
    "data-dir": { type: "string", default: join(ROOT, ".data", "pglite") },
    "db-port": { type: "string", default: "0" },
    /** Where wrangler keeps the Durable Objects' storage (sessions, throttles). */
    "persist-to": { type: "string", default: join(ROOT, ".wrangler", "state") },
    /** The agent dashboard's own origin, and the local Kamailio's SIP-over-WebSocket port. */
    "dashboard-port": { type: "string", default: "8788" },
    "sip-port": { type: "string", default: "5066" },
  },
});

const cleanups: (() => Promise<void> | void)[] = [];
let stopping = false;

async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`[start] cleanup failed: ${(error as Error).message}`);
    }
  }
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

async function main() {
  const devVars = readDevVars();
  const pinSecret = ensurePinSecret(devVars);
  const databaseUrl = process.env.DATABASE_URL || devVars.DATABASE_URL;
  const workerVars: Record<string, string> = {};

  const fetchEndpoint = process.env.NEON_FETCH_ENDPOINT || devVars.NEON_FETCH_ENDPOINT;
  // A fresh password each run for a local Neon-protocol server: only this run's Worker can query.
  const password = randomBytes(16).toString("hex");
  let db: ReturnType<typeof createDatabase>;
  if (databaseUrl && !speaksNeonHttp(databaseUrl, fetchEndpoint)) {
    console.log("[start] using DATABASE_URL (Postgres): applying migrations");
    const local = await servePostgres(databaseUrl, { password, port: Number(args["db-port"]) });
    cleanups.push(() => local.close());
    workerVars.DATABASE_URL = localConnectionString(password, local.server.port);
    workerVars.NEON_FETCH_ENDPOINT = local.server.url;
    db = createDatabase({
      DATABASE_URL: workerVars.DATABASE_URL,
      NEON_FETCH_ENDPOINT: workerVars.NEON_FETCH_ENDPOINT,
    });
  } else if (databaseUrl) {
    console.log("[start] using DATABASE_URL (Neon): applying migrations");
    db = createDatabase({ DATABASE_URL: databaseUrl, NEON_FETCH_ENDPOINT: fetchEndpoint });
    // wrangler dev reads .dev.vars itself; a URL given only in the environment is passed on.
    if (!devVars.DATABASE_URL) workerVars.DATABASE_URL = databaseUrl;
    if (fetchEndpoint && !devVars.NEON_FETCH_ENDPOINT)
      workerVars.NEON_FETCH_ENDPOINT = fetchEndpoint;
    await migrateNeon(db);
  } else {
    const dataDir = args["data-dir"];
    console.log(`[start] embedded Postgres in ${dataDir}`);
    const pg = await openEmbeddedPostgres(dataDir);
    cleanups.push(() => pg.close());
    const server = await startNeonHttpServer({
      backend: pgliteBackend(pg),
      password,
      port: Number(args["db-port"]),
    });
    cleanups.push(() => server.close());
    workerVars.DATABASE_URL = localConnectionString(password, server.port);
    workerVars.NEON_FETCH_ENDPOINT = server.url;
    db = createDatabase({
      DATABASE_URL: workerVars.DATABASE_URL,
      NEON_FETCH_ENDPOINT: workerVars.NEON_FETCH_ENDPOINT,
    });
  }
  // Every setting the Worker knows (wrangler.toml [vars] and .dev.vars.example), when given in
  // the environment, wins over .dev.vars, so a test or a one-off run can point at fakes; an
  // empty value means "none" (no assistant, no voice). PIN_SECRET and the database are handled
  // above.
  for (const name of workerSettingNames()) {
    if (name === "PIN_SECRET" || name === "DATABASE_URL" || name === "NEON_FETCH_ENDPOINT")
      continue;
    const value = process.env[name];
    if (value !== undefined) workerVars[name] = value;
  }
  await seedDemoData(db, pinSecret);
  console.log("[start] demo data seeded");

  const port = Number(args.port);
  const dashboard = await startDashboardSide({
    dashboardPort: Number(args["dashboard-port"]),
    sipPort: Number(args["sip-port"]),
    apiUrl: `http://127.0.0.1:${port}`,
    configured: { ...devVars, ...workerVars },
  });
  cleanups.push(() => dashboard.close());
  Object.assign(workerVars, dashboard.workerVars);
  // Twilio calls back to PUBLIC_URL; locally that is this machine (a tunnel makes it reachable
  // from Twilio — see the README), and the test fakes reach it as it is.
  if (!workerVars.PUBLIC_URL && !devVars.PUBLIC_URL) {
    workerVars.PUBLIC_URL = `http://127.0.0.1:${port}`;
  }
  // .dev.vars first, this run's settings over it.
  const wrangler = startWranglerDev({
    port,
    inspectorPort: Number(args["inspector-port"]),
    persistTo: args["persist-to"],
    vars: workerVars,
    envFiles: existsSync(DEV_VARS) ? [DEV_VARS] : [],
  });
  cleanups.push(() => wrangler.stop());
  wrangler.child.on("exit", (code) => {
    if (!stopping) {
      console.error(`[start] wrangler dev exited (${code ?? "signal"})`);
      void stop(code ?? 1);
    }
  });

  await waitForHealth(`http://127.0.0.1:${port}/api/health`, 120_000, () => stopping);
  console.log(
    [
      "",
      "  Convonet Edge is running.",
      `  Caller page: http://127.0.0.1:${port}/`,
      "",
      "  Demo PINs:",
      ...DEMO_USERS.map((u) => `    ${u.pin}  ${u.name}`),
      "",
      ...dashboard.banner,
      "",
      "  Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
}

/** The names of the Worker's settings: wrangler.toml's [vars] and .dev.vars.example's secrets. */
function workerSettingNames(): Set<string> {
  const names = new Set<string>();
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const vars = /^\[vars\]\s*$([\s\S]*?)(?=^\[)/m.exec(`${toml}\n[`)?.[1] ?? "";
  for (const match of vars.matchAll(/^([A-Z][A-Z0-9_]*)\s*=/gm)) if (match[1]) names.add(match[1]);
  const example = readFileSync(join(ROOT, ".dev.vars.example"), "utf8");
  for (const match of example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)) if (match[1]) names.add(match[1]);
  return names;
}

function readDevVars(): Record<string, string> {
  if (!existsSync(DEV_VARS)) return {};
  const vars: Record<string, string> = {};
  for (const line of readFileSync(DEV_VARS, "utf8").split("\n")) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match?.[1]) vars[match[1]] = (match[2] ?? "").replace(/^"(.*)"$/, "$1");
  }
  return vars;
}

/** A first run gets its own random PIN_SECRET in .dev.vars (git-ignored). */
function ensurePinSecret(vars: Record<string, string>): string {
  // Read from .dev.vars only: that is where wrangler dev reads it too.
  const existing = vars.PIN_SECRET;
  if (existing && existing.length >= MIN_PIN_SECRET_LENGTH) return existing;
  const secret = randomBytes(32).toString("hex");
  const previous = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, "utf8") : "";
  const kept = previous
    .split("\n")
    .filter((line) => !/^\s*PIN_SECRET\s*=/.test(line))
    .join("\n")
    .trimEnd();
  writeFileSync(
    DEV_VARS,
    `${kept ? `${kept}\n` : "# Local secrets for wrangler dev; see .dev.vars.example.\n"}PIN_SECRET=${secret}\n`,
    { mode: 0o600 },
  );
  console.log("[start] wrote a new random PIN_SECRET to .dev.vars");
  return secret;
}

main().catch((error: unknown) => {
  console.error(`[start] failed: ${error instanceof Error ? error.message : String(error)}`);
  void stop(1);
});
