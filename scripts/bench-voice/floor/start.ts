/**
 * Starts the benchmark's floor relay (relay.ts) under `wrangler dev` as `scripts/start.ts` starts
 * the app — same flags, the provider settings from the environment in a private file — and prints
 * the same "Caller page:" line the benchmark waits for. Takes start.ts's options; the ones for
 * Postgres, the dashboard and SIP are accepted and unused (the relay has none of them).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = join(HERE, "..", "..", "..");
const SETTINGS = [
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_BASE_URL",
  "DEEPGRAM_API_KEY",
  "DEEPGRAM_BASE_URL",
] as const;

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    "inspector-port": { type: "string", default: "9229" },
    "persist-to": { type: "string", default: join(tmpdir(), "convonet-turn-floor") },
    "data-dir": { type: "string" },
    "dashboard-port": { type: "string" },
    "sip-port": { type: "string" },
  },
});

const missing = SETTINGS.filter((name) => !process.env[name]);
if (missing.length > 0) {
  console.error(`[floor] missing settings: ${missing.join(", ")}`);
  process.exit(1);
}
// Keys go to wrangler in a private file, not on its command line, as start.ts does.
const dir = mkdtempSync(join(tmpdir(), "convonet-floor-vars-"));
const varsFile = join(dir, "vars.env");
writeFileSync(varsFile, SETTINGS.map((name) => `${name}='${process.env[name]}'\n`).join(""), {
  mode: 0o600,
});

const port = Number(args.port);
const wrangler: ChildProcess = spawn(
  process.execPath,
  [
    join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js"),
    "dev",
    "--config",
    join(HERE, "wrangler.toml"),
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(args["inspector-port"]),
    "--show-interactive-dev-session=false",
    "--persist-to",
    String(args["persist-to"]),
    "--env-file",
    varsFile,
  ],
  {
    cwd: HERE,
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
    env: {
      ...process.env,
      PATH: [dirname(process.execPath), join(ROOT, "node_modules", ".bin"), process.env.PATH].join(
        delimiter,
      ),
      WRANGLER_SEND_METRICS: "false",
    },
  },
);

let stopping = false;
const stop = (code: number) => {
  if (stopping) return;
  stopping = true;
  rmSync(dir, { recursive: true, force: true });
  if (wrangler.pid !== undefined && wrangler.exitCode === null) {
    wrangler.once("exit", () => process.exit(code));
    try {
      process.kill(-wrangler.pid, "SIGTERM");
    } catch {
      process.exit(code);
    }
    setTimeout(() => process.exit(code), 5_000).unref();
  } else process.exit(code);
};
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
wrangler.on("exit", (code) => {
  if (!stopping) {
    console.error(`[floor] wrangler dev exited (${code ?? "signal"})`);
    stop(1);
  }
});

const url = `http://127.0.0.1:${port}/`;
const deadline = Date.now() + 60_000;
for (;;) {
  const ok = await fetch(url).then(
    (r) => r.ok,
    () => false,
  );
  if (ok) break;
  if (Date.now() > deadline) {
    console.error(`[floor] wrangler dev did not answer ${url} within 60 s`);
    stop(1);
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
}
// The benchmark waits for both lines (the relay has no dashboard: the same URL stands in).
console.log(`  Caller page: ${url}\n  Agent dashboard: ${url}`);
