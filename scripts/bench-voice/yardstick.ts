/**
 * The benchmark's yardsticks, each served under `wrangler dev` as `scripts/start.ts` serves the
 * app (scripts/wrangler-dev.ts), with the provider settings from the environment:
 * - `floor` (floor/relay.ts): a spoken turn with nothing on top, the runtime's own floor;
 * - `library` (library/agent.ts): Cloudflare's voice library, `@cloudflare/voice`, with its own
 *   dependencies in library/package.json, installed there by the project's `npm install` (its
 *   postinstall) and again by the bench if they drifted (`ensureLibraryInstalled`).
 * Each has a start script (floor/start.ts, library/start.ts) that takes start.ts's options (the
 * ones for Postgres, the dashboard and SIP are accepted and unused) and prints the same
 * "Caller page:" line the benchmark waits for.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startWranglerDev, waitForHealth } from "../wrangler-dev.ts";

export type Yardstick = "floor" | "library";
export const YARDSTICKS: readonly Yardstick[] = ["floor", "library"];

const folderOf = (yardstick: Yardstick) =>
  fileURLToPath(new URL(`./${yardstick}/`, import.meta.url));

/** The start script of `yardstick`, for `startAppProcess`'s `entry`. */
export const yardstickStart = (yardstick: Yardstick) => join(folderOf(yardstick), "start.ts");

/**
 * The library's own node_modules, from its lockfile (the project's postinstall puts them there):
 * installed again when a dependency's installed version is not the one package.json pins.
 */
export function ensureLibraryInstalled() {
  const folder = folderOf("library");
  const pinned = (readJson(join(folder, "package.json"))?.dependencies ?? {}) as Record<
    string,
    string
  >;
  const installed = (name: string) =>
    readJson(join(folder, "node_modules", name, "package.json"))?.version;
  if (Object.entries(pinned).every(([name, version]) => installed(name) === version)) return;
  console.error("[bench] installing the library yardstick's dependencies (npm ci in library/)");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], {
    cwd: folder,
    stdio: ["ignore", "inherit", "inherit"],
  });
}

function readJson(path: string): { version?: string; dependencies?: unknown } | undefined {
  return existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : undefined;
}

const SETTINGS = [
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_BASE_URL",
  "DEEPGRAM_API_KEY",
  "DEEPGRAM_BASE_URL",
] as const;

/** Serves `yardstick` until SIGINT or SIGTERM: the body of its start script. */
export async function serveYardstick(yardstick: Yardstick) {
  const { values: args } = parseArgs({
    options: {
      port: { type: "string", default: "8787" },
      "inspector-port": { type: "string", default: "9229" },
      "persist-to": { type: "string", default: join(tmpdir(), `convonet-turn-${yardstick}`) },
      "data-dir": { type: "string" },
      "dashboard-port": { type: "string" },
      "sip-port": { type: "string" },
    },
  });
  const missing = SETTINGS.filter((name) => !process.env[name]);
  if (missing.length > 0) {
    console.error(`[${yardstick}] missing settings: ${missing.join(", ")}`);
    process.exit(1);
  }
  const vars = Object.fromEntries(SETTINGS.map((name) => [name, process.env[name] ?? ""]));
  const port = Number(args.port);
  const folder = folderOf(yardstick);
  const wrangler = startWranglerDev({
    port,
    inspectorPort: Number(args["inspector-port"]),
    persistTo: args["persist-to"],
    vars,
    cwd: folder,
    config: join(folder, "wrangler.toml"),
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
      console.error(`[${yardstick}] wrangler dev exited (${code ?? "signal"})`);
      void stop(1);
    }
  });

  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitForHealth(url, 60_000, () => stopping);
  } catch (error) {
    console.error(`[${yardstick}] ${(error as Error).message}`);
    await stop(1);
  }
  // The benchmark waits for both lines (a yardstick has no dashboard: the same URL stands in).
  if (!stopping) console.log(`  Caller page: ${url}\n  Agent dashboard: ${url}`);
}
