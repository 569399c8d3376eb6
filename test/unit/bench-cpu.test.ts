import { describe, expect, it } from "vitest";
import {
  cpuTickMs,
  type ProcessCpu,
  processCpu,
  processCpuBetween,
} from "../../scripts/app-cpu.ts";

const reading = (ticksMs: number, threads: [number, number][]): ProcessCpu => ({
  ticksMs,
  threads: new Map(threads),
});

describe("the benchmark's CPU of a process between two readings", () => {
  it("sums its threads' run times, to the ns, not the 10 ms ticks", () => {
    const a = reading(100, [
      [1, 60_000_000],
      [2, 45_000_000],
    ]);
    const b = reading(110, [
      [1, 63_250_000],
      [2, 47_000_000],
    ]);
    expect(processCpuBetween(a, b)).toBeCloseTo(5.25, 6);
  });

  it("counts a thread started in between from its start", () => {
    const a = reading(100, [[1, 60_000_000]]);
    const b = reading(120, [
      [1, 70_000_000],
      [3, 4_000_000],
    ]);
    expect(processCpuBetween(a, b)).toBeCloseTo(14, 6);
  });

  it("gives the ticks' figure when a thread ended with time the threads no longer show", () => {
    const a = reading(100, [
      [1, 60_000_000],
      [2, 40_000_000],
    ]);
    const b = reading(200, [[1, 61_000_000]]);
    expect(processCpuBetween(a, b)).toBe(100);
  });

  it("gives the ticks' figure when there are no thread times", () => {
    expect(processCpuBetween(reading(100, []), reading(130, []))).toBe(30);
  });

  it("reads this process: its threads' time grows with work and stays within three ticks of utime + stime", () => {
    const before = processCpu(process.pid);
    // 50 ms of this thread's CPU, however busy the machine is.
    const start = process.cpuUsage();
    let x = 0;
    while (process.cpuUsage(start).user < 50_000) x += Math.sqrt(x + 1);
    const after = processCpu(process.pid);
    expect(x).toBeGreaterThan(0);
    expect(before.threads.size).toBeGreaterThan(0);
    const ms = processCpuBetween(before, after);
    expect(ms).toBeGreaterThan(40);
    expect(Math.abs(ms - (after.ticksMs - before.ticksMs))).toBeLessThanOrEqual(3 * cpuTickMs());
  });
});
