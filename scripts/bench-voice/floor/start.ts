/**
 * Starts the benchmark's floor relay (relay.ts) under `wrangler dev` as `scripts/start.ts` starts
 * the app (scripts/wrangler-dev.ts), with the provider settings from the environment, and prints
 * the same "Caller page:" line the benchmark waits for. Takes start.ts's options; the ones for
 * Postgres, the dashboard and SIP are accepted and unused (the relay has none of them).
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startWranglerDev, waitForHealth } from "../../wrangler-dev.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));
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
const vars = Object.fromEntries(SETTINGS.map((name) => [name, process.env[name] ?? ""]));

const port = Number(args.port);
const wrangler = startWranglerDev({
  port,
  inspectorPort: Number(args["inspector-port"]),
  persistTo: args["persist-to"],
  vars,
  cwd: HERE,
  config: join(HERE, "wrangler.toml"),
});

let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await wrangler.stop();
  process.exit(code);
};
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
wrangler.child.on("exit", (code) => {
  if (!stopping) {
    console.error(`[floor] wrangler dev exited (${code ?? "signal"})`);
    void stop(1);
  }
});

const url = `http://127.0.0.1:${port}/`;
try {
  await waitForHealth(url, 60_000, () => stopping);
} catch (error) {
  console.error(`[floor] ${(error as Error).message}`);
  await stop(1);
}
// The benchmark waits for both lines (the relay has no dashboard: the same URL stands in).
if (!stopping) console.log(`  Caller page: ${url}\n  Agent dashboard: ${url}`);
