/**
 * `wrangler dev` as `npm start` runs it (scripts/start.ts), shared with the benchmark's floor
 * relay (scripts/bench-voice/floor/start.ts): on 127.0.0.1, settings in a private file rather than
 * on the command line, in a process group of its own so stopping reaches workerd too.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface WranglerDevOptions {
  port: number;
  inspectorPort: number;
  /** Where wrangler keeps the Durable Objects' storage. */
  persistTo: string;
  /** This run's settings, over those of `envFiles`. */
  vars: Record<string, string>;
  /** Settings files read before `vars` (e.g. .dev.vars). */
  envFiles?: string[];
  /** The Worker's folder. @default the project's root */
  cwd?: string;
  /** A wrangler.toml other than the folder's own. */
  config?: string;
}

export interface WranglerDev {
  child: ChildProcess;
  /** Stops wrangler dev and its workerd, and removes the settings file. */
  stop(): Promise<void>;
}

export function startWranglerDev(options: WranglerDevOptions): WranglerDev {
  const wranglerBin = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
  // Settings go to wrangler in a private file, not on its command line, where anyone on the
  // machine could read keys with `ps`.
  const dir = mkdtempSync(join(tmpdir(), "convonet-vars-"));
  const varsFile = join(dir, "vars.env");
  writeFileSync(varsFile, envFileText(options.vars), { mode: 0o600 });
  const envFiles = [...(options.envFiles ?? []), varsFile].flatMap((file) => ["--env-file", file]);
  const child = spawn(
    process.execPath,
    [
      wranglerBin,
      "dev",
      ...(options.config ? ["--config", options.config] : []),
      "--ip",
      "127.0.0.1",
      "--port",
      String(options.port),
      "--inspector-port",
      String(options.inspectorPort),
      "--show-interactive-dev-session=false",
      "--persist-to",
      options.persistTo,
      ...envFiles,
    ],
    {
      cwd: options.cwd ?? ROOT,
      stdio: ["ignore", "inherit", "inherit"],
      // Its own process group, so stopping reaches workerd and the build step too.
      detached: true,
      env: {
        ...process.env,
        // The build step (`node scripts/build-web.ts`) must find this Node, not the system's.
        PATH: [
          dirname(process.execPath),
          join(ROOT, "node_modules", ".bin"),
          process.env.PATH,
        ].join(delimiter),
        WRANGLER_SEND_METRICS: "false",
      },
    },
  );
  return {
    child,
    stop: async () => {
      await stopProcessGroup(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function stopProcessGroup(child: ChildProcess) {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

/** Resolves once `url` answers 2xx; gives up after `timeoutMs`, or quietly once `stopping()`. */
export async function waitForHealth(url: string, timeoutMs: number, stopping: () => boolean) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping()) return;
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not answer ${url} within ${timeoutMs / 1000} s`);
}

/** Dotenv lines; single quotes keep a value literal (JSON, `$`, `#`), others where it has one. */
function envFileText(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([name, value]) => {
      if (/[\r\n]/.test(value)) throw new Error(`${name}: a setting cannot span lines`);
      const quote = !value.includes("'") ? "'" : !value.includes('"') ? '"' : "`";
      if (value.includes(quote)) throw new Error(`${name}: a setting cannot hold ', " and \``);
      return `${name}=${quote}${value}${quote}\n`;
    })
    .join("");
}
