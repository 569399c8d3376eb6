/** `npm run bench`: the app's CPU from /proc between two moments (scripts/app-cpu.ts). */
import {
  type AppProcesses,
  type CpuSnapshot,
  cpuBetween,
  cpuSnapshot,
  processesCpuMs,
} from "../app-cpu.ts";

/** The app's workerds and this process (cpuSnapshot), and the app's whole process tree. */
export interface Snapshot {
  cpu: CpuSnapshot;
  tree: number;
}

export function snapshot(processes: AppProcesses): Snapshot {
  return { cpu: cpuSnapshot(processes), tree: processesCpuMs(processes.tree) };
}

export type CpuSpan = ReturnType<typeof cpuBetween> & {
  /** The app's other processes: start.ts's Node (embedded Postgres), wrangler's Node, Kamailio. */
  helpersMs: number;
};

/** As cpuBetween, with the app's helper processes apart and left out of "others". */
export function cpuSpan(a: Snapshot, b: Snapshot): CpuSpan {
  const cpu = cpuBetween(a.cpu, b.cpu);
  const treeMs = b.tree - a.tree;
  const total = Math.max(1, b.cpu.machine.total - a.cpu.machine.total);
  const busy = b.cpu.machine.busy - a.cpu.machine.busy;
  return {
    ...cpu,
    helpersMs: Math.max(0, treeMs - cpu.workerdMs - cpu.proxyMs),
    othersPct: (Math.max(0, busy - treeMs - cpu.selfMs) / total) * 100,
  };
}
