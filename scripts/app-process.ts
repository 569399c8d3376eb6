/**
 * The whole app as a child process, the way a developer starts it (`scripts/start.ts`), on
 * free ports with a database and Durable Object storage of its own. Used by the browser tests
 * and the benchmark.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface AppProcess {
  /** The caller page, e.g. http://127.0.0.1:PORT/ */
  url: string;
  /** The agent dashboard, on its own origin, e.g. http://127.0.0.1:PORT/ */
  dashboardUrl: string;
  /** wrangler dev's inspector (DevTools protocol), e.g. for a heap reading. */
  inspectorPort: number;
  stop(): Promise<void>;
}

/**
 * A port for another process to listen on: one nobody listens on now, below the kernel's range
 * of ephemeral ports. A port the kernel picks for `listen(0)` is free again once it is handed over,
 * and until the child binds it the kernel may give it to any outgoing connection as its local
 * port: a benchmark opens hundreds, and a run failed so (wrangler's "Address already in use").
 * Below the range, only an explicit bind takes a port.
 */
export async function freePort(): Promise<number> {
  const [low, high] = USABLE_PORTS;
  for (;;) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
}

/** Ports to hand out: from 10000 to the ephemeral range's start (Linux's, else 32768). */
const USABLE_PORTS: [number, number] = [10_000, ephemeralPortsStart() - 1];

function ephemeralPortsStart(): number {
  try {
    const [start] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/);
    const port = Number(start);
    if (Number.isInteger(port) && port > 11_000) return port;
  } catch {
    // Not Linux: macOS's range starts at 49152, Windows' at 49152; 32768 is below both.
  }
  return 32_768;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

export interface AppProcessOptions {
  /** A fixed port, e.g. to start the app again where Twilio's callbacks still point. */
  port?: number;
  /**
   * Durable Object storage to use and keep when the app stops (a restart keeps its sessions);
   * by default a fresh folder, removed on stop.
   */
  persistTo?: string;
  /**
   * The checkout to start (its `scripts/start.ts`, code and node_modules), e.g. a worktree of an
   * earlier commit, so one benchmark measures old and new code; by default the current directory.
   */
  cwd?: string;
  /** Appends everything the app prints (its JSON log lines among it) to this file. */
  logTo?: string;
  /**
   * The start script, if not the checkout's `scripts/start.ts` (the benchmark's floor relay has
   * its own); it takes start.ts's options and prints the same "Caller page:" line.
   */
  entry?: string;
}

/** Starts the app with extra environment (provider keys and endpoints); resolves once it is ready. */
export async function startAppProcess(
  env: Record<string, string>,
  options: AppProcessOptions = {},
): Promise<AppProcess> {
  const dir = mkdtempSync(join(tmpdir(), "convonet-app-"));
  const inspectorPort = await freePort();
  const args = [
    options.entry ?? "scripts/start.ts",
    "--port",
    String(options.port ?? (await freePort())),
    "--inspector-port",
    String(inspectorPort),
    "--dashboard-port",
    String(await freePort()),
    "--sip-port",
    String(await freePort()),
    "--data-dir",
    // Nested, as .data/pglite is on a fresh clone: the folder is created with its parents.
    join(dir, "data", "pglite"),
    // Durable Objects of its own: sessions and PIN throttles start empty.
    "--persist-to",
    options.persistTo ?? join(dir, "state"),
  ];
  const child = spawn(process.execPath, args, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: { ...process.env, ...env },
    // Its own process group, so stopping reaches wrangler and workerd too.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.add(child);
  child.once("exit", () => started.delete(child));
  let output = "";
  const [url, dashboardUrl] = await new Promise<[string, string]>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Caller page: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      const dashboard = /Agent dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (match?.[1] && dashboard?.[1]) resolve([match[1], dashboard[1]]);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    if (options.logTo) {
      const file = options.logTo;
      const append = (chunk: Buffer) => appendFileSync(file, chunk);
      child.stdout?.on("data", append);
      child.stderr?.on("data", append);
    }
    child.once("exit", (code) =>
      reject(new Error(`the app exited (${code}) before it was ready:\n${output}`)),
    );
  });
  return {
    url,
    dashboardUrl,
    inspectorPort,
    stop: async () => {
      await stopGroup(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Apps this process started and that still run. */
const started = new Set<ChildProcess>();
let signalHandled = false;

/**
 * A script that starts apps (a benchmark, the soak) stops them when it is interrupted: each runs
 * in a process group of its own, which the terminal's Ctrl-C does not reach, and an app left up
 * would sit idle under every later benchmark. Installs the handlers once.
 */
export function stopAppsOnSignal() {
  if (signalHandled) return;
  signalHandled = true;
  const stopAll = () =>
    void Promise.all([...started].map(stopGroup)).finally(() => process.exit(130));
  process.once("SIGINT", stopAll);
  process.once("SIGTERM", stopAll);
}
async function stopGroup(child: ChildProcess) {
  if (child.pid === undefined || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(-child.pid, "SIGINT");
  const timer = setTimeout(
    () => child.pid !== undefined && process.kill(-child.pid, "SIGKILL"),
    10_000,
  );
  await exited;
  clearTimeout(timer);
}
