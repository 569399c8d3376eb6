/**
 * CPU time of an app started with `startAppProcess`, read from Linux's /proc, for benchmarks.
 * `wrangler dev` runs two workerd processes: the app's own (the Worker and every Durable Object,
 * started with `--inspector-addr`) and a proxy in front of it that listens on the public port
 * and relays every request and WebSocket message (`--socket-addr=entry=127.0.0.1:PORT`; not
 * there in production). Both are found among the descendants of the app's `scripts/start.ts`.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface AppProcesses {
  /** The workerd that runs the Worker and its Durable Objects. */
  workerd: number;
  /** wrangler dev's proxy workerd, when found. */
  proxy: number | undefined;
  /** wrangler dev's DevTools inspector port (start.ts's `--inspector-port`). */
  inspectorPort: number;
  /**
   * start.ts and all its descendants when found: with the workerds, the app's helpers — start.ts's
   * Node (the embedded Postgres and its Neon-protocol server), wrangler's Node, Kamailio.
   */
  tree: number[];
}

interface ProcEntry {
  pid: number;
  ppid: number;
  comm: string;
  args: string[];
}

function readProc(pid: number): ProcEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may itself hold spaces or parentheses: split after the last.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const ppid = Number(stat.slice(close + 2).split(" ")[1]);
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    return { pid, ppid, comm, args };
  } catch {
    return undefined; // gone while we looked
  }
}

function allProcesses(): ProcEntry[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => readProc(Number(name)) ?? []);
}

/** The processes of the app answering on `port` (its `--port`). */
export function findAppProcesses(port: number): AppProcesses {
  const processes = allProcesses();
  const start = processes.find(
    // scripts/start.ts, or another start script (the benchmark's floor relay's start.ts).
    (p) => p.args.some((a) => a.endsWith("start.ts")) && argAfter(p, "--port") === port,
  );
  if (!start) throw new Error(`no start.ts with --port ${port} in /proc`);
  const descendants = new Set([start.pid]);
  // Parents come before their children only by chance of pid order: repeat until stable.
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of processes) {
      if (!descendants.has(p.pid) && descendants.has(p.ppid)) {
        descendants.add(p.pid);
        grew = true;
      }
    }
  }
  const workerds = processes.filter((p) => descendants.has(p.pid) && p.comm === "workerd");
  const app = workerds.find((p) => p.args.some((a) => a.startsWith("--inspector-addr")));
  if (!app) throw new Error(`no workerd with an inspector under start.ts (pid ${start.pid})`);
  const proxy = workerds.find((p) => p.args.includes(`--socket-addr=entry=127.0.0.1:${port}`));
  return {
    workerd: app.pid,
    proxy: proxy?.pid,
    inspectorPort: argAfter(start, "--inspector-port") ?? 0,
    tree: [...descendants],
  };
}

function argAfter(p: ProcEntry, flag: string): number | undefined {
  const at = p.args.indexOf(flag);
  return at < 0 ? undefined : Number(p.args[at + 1]);
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** The resolution of utime and stime in /proc: one clock tick, in ms (10 ms at 100 Hz). */
export function cpuTickMs(): number {
  return 1000 / clockTicks();
}

/** utime + stime of a process, all its threads, in ms (resolution: one clock tick, 10 ms). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the comm: state is field 3 of the man page, utime 14 and stime 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicks();
}

/**
 * A process's CPU at one moment: each live thread's time on a CPU in ns (the first field of
 * /proc/PID/task/TID/schedstat), and utime + stime. At one call a run's workerd CPU is a few
 * hundred ms, and a 10 ms tick at each end of the streaming window moved the CPU per turn in steps
 * of about a millisecond; the threads' own run times have no such steps.
 */
export interface ProcessCpu {
  /** Thread id → ns on a CPU; empty when schedstat cannot be read. */
  threads: Map<number, number>;
  ticksMs: number;
}

export function processCpu(pid: number): ProcessCpu {
  const threads = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
        if (Number.isFinite(ns)) threads.set(Number(tid), ns);
      } catch {
        // the thread ended while we looked
      }
    }
  } catch {
    // no thread list: processCpuBetween gives the ticks' figure
  }
  return { threads, ticksMs: processCpuMs(pid) };
}

/**
 * CPU ms of a process between two readings, from its threads' run times. A thread that ended in
 * between takes its time with it (utime + stime keep it), so when the ticks saw more than three
 * ticks beyond the threads, or there are no thread times, the ticks' figure is given instead
 * (utime and stime are each cut down to a tick, and a running thread's time lags by up to a
 * scheduler tick: within that the two agree).
 */
export function processCpuBetween(a: ProcessCpu, b: ProcessCpu): number {
  const ticksMs = b.ticksMs - a.ticksMs;
  if (a.threads.size === 0 || b.threads.size === 0) return ticksMs;
  let ns = 0;
  for (const [tid, now] of b.threads) ns += now - (a.threads.get(tid) ?? 0);
  const ms = ns / 1e6;
  return ticksMs - ms > 3 * cpuTickMs() ? ticksMs : ms;
}

/** CPU so far of all these processes together, in ms (those gone since count no more). */
export function processesCpuMs(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += processCpuMs(pid);
    } catch {
      // exited
    }
  }
  return total;
}

/** The whole machine's busy and total CPU time so far, in ms (all cores, from /proc/stat). */
export function machineCpuMs(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  // user nice system idle iowait irq softirq steal …: idle and iowait are not busy.
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const ms = (t: number) => (t * 1000) / clockTicks();
  return { busy: ms(total - idle), total: ms(total) };
}

/** CPU so far of the app's processes, this process and the machine, at one moment. */
export interface CpuSnapshot {
  at: number;
  workerd: ProcessCpu;
  proxy: ProcessCpu | undefined;
  self: NodeJS.CpuUsage;
  machine: { busy: number; total: number };
}

export function cpuSnapshot(processes: AppProcesses): CpuSnapshot {
  return {
    at: performance.now(),
    workerd: processCpu(processes.workerd),
    proxy: processes.proxy ? processCpu(processes.proxy) : undefined,
    self: process.cpuUsage(),
    machine: machineCpuMs(),
  };
}

/** CPU ms between two snapshots; the machine's busy share and the share of all other processes
 * (not the app's workerds, not this one) are % of all cores. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot) {
  const selfMs = (b.self.user - a.self.user + b.self.system - a.self.system) / 1000;
  const workerdMs = processCpuBetween(a.workerd, b.workerd);
  const proxyMs = a.proxy && b.proxy ? processCpuBetween(a.proxy, b.proxy) : 0;
  const machineTotal = Math.max(1, b.machine.total - a.machine.total);
  const machineBusy = b.machine.busy - a.machine.busy;
  return {
    wallMs: b.at - a.at,
    workerdMs,
    proxyMs,
    selfMs,
    machineBusyPct: (machineBusy / machineTotal) * 100,
    othersPct: (Math.max(0, machineBusy - workerdMs - proxyMs - selfMs) / machineTotal) * 100,
  };
}
