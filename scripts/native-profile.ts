/**
 * A native CPU profile of the app's workerd with Linux `perf`: where the process's CPU goes
 * outside the isolate's JavaScript, which the DevTools sampler (cpu-profile.ts) cannot see — the
 * KJ event loop and its sockets, V8's own runtime and collector, the allocator, the kernel's share
 * of every send and receive, SQLite under Durable Object storage. workerd ships with its symbols,
 * so no build of our own is needed. Compiled JavaScript shows as `[JIT]` (workerd writes no perf
 * map), interpreted JavaScript as V8's `Builtins_…` handlers.
 *
 * `perf record` of one's own process needs `kernel.perf_event_paranoid` ≤ 2 (Debian's default);
 * where perf is missing or refused, `nativeProfilerUnavailable()` says why.
 *
 *   node scripts/native-profile.ts FILE.perf.data     the summary of a recording
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";

/** Where a sample's time went: a part of workerd, V8, the kernel or a library. */
export type NativeCategory =
  | "JavaScript, compiled (JIT)"
  | "V8 interpreter and built-ins"
  | "V8 garbage collection"
  | "V8 runtime, other"
  | "workerd JS bindings (jsg)"
  | "workerd APIs (fetch, WebSocket, storage)"
  | "workerd, other"
  | "KJ/Cap'n Proto event loop and I/O"
  | "Rust (workerd's tokio side)"
  | "memory allocator"
  | "zlib (WebSocket compression)"
  | "SQLite (Durable Object storage)"
  | "kernel (syscalls, network, scheduling)"
  | "libc, other"
  | "other";

export interface NativeSample {
  /** Share of the recording's samples, in percent, as `perf report` prints it. */
  percent: number;
  /** Samples of this symbol (`perf report -n`). */
  samples: number;
  dso: string;
  symbol: string;
}

export interface NativeSummary {
  samples: number;
  categories: { category: NativeCategory; percent: number }[];
  /** The busiest symbols, with their category. */
  top: (NativeSample & { category: NativeCategory })[];
}

const GC = /Heap|Scaveng|Mark|Sweep|Evacuat|Compact|cppgc|GlobalHandles|Minor|Remembered|Barrier/;

/** The category of one `perf report` row (its shared object and symbol). */
export function categorize(dso: string, symbol: string): NativeCategory {
  // Some C++ symbols stay mangled: read those by the first namespace they name.
  const mangled = symbol.startsWith("_Z")
    ? ([
        ["7workerd3jsg", "workerd::jsg::"],
        ["7workerd3api", "workerd::api::"],
        ["2v88internal", "v8::internal::"],
        ["2v8", "v8::"],
        ["7workerd", "workerd::"],
        ["2kj", "kj::"],
      ].find(([code]) => symbol.includes(code as string))?.[1] ?? "") + symbol
    : symbol;
  const name = mangled.includes("v8::internal::maglev") ? "v8::internal::maglev" : mangled;
  if (dso.startsWith("[kernel")) return "kernel (syscalls, network, scheduling)";
  if (dso.startsWith("[JIT]") || dso.startsWith("perf-")) return "JavaScript, compiled (JIT)";
  if (name.startsWith("Builtins_")) return "V8 interpreter and built-ins";
  if (
    /^(Cr_z_|deflate|inflate|longest_match|build_tree|fill_window|compress_block|adler32|crc32|_tr_)/.test(
      name,
    )
  )
    return "zlib (WebSocket compression)";
  if (/sqlite|^yy_|^unix(Shm|Lock|Unlock|Sync|Write|Read)/i.test(name))
    return "SQLite (Durable Object storage)";
  if (/tcmalloc|TCMalloc|^(malloc|free|calloc|realloc|cfree)$|operator (new|delete)/.test(name))
    return "memory allocator";
  if (/^(v8::internal::|cppgc::)/.test(name) && GC.test(name)) return "V8 garbage collection";
  if (/^(v8::|v8_inspector::|cppgc::|unibrow::)/.test(name)) return "V8 runtime, other";
  if (name.includes("workerd::jsg::")) return "workerd JS bindings (jsg)";
  if (name.includes("workerd::api::")) return "workerd APIs (fetch, WebSocket, storage)";
  if (
    /tokio|kj_rs|kj_hyper|hyper|async_trace|workerd_server|cxxbridge|\bmio::|^<|^(alloc|core|std|http|bytes|rand)::(?!__1)|::\{closure/.test(
      name,
    )
  )
    return "Rust (workerd's tokio side)";
  if (/^workerd::|^ada::|^absl::/.test(name)) return "workerd, other";
  if (/\b(kj|capnp)::/.test(name)) return "KJ/Cap'n Proto event loop and I/O";
  if (dso.startsWith("libc") || dso.startsWith("[vdso]")) return "libc, other";
  return "other";
}

/**
 * The rows of `perf report --stdio -n --no-children --sort dso,sym` (one per symbol:
 * `  12.34%  370  workerd  [.] kj::…`); headers and blank lines are skipped.
 */
export function parsePerfReport(text: string): NativeSample[] {
  const rows: NativeSample[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*([\d.]+)%\s+(\d+)\s+(\S+(?: tid \d+)?)\s+\[[.k]\]\s+(.*)$/.exec(line);
    if (!match) continue;
    rows.push({
      percent: Number(match[1]),
      samples: Number(match[2]),
      dso: match[3] ?? "",
      symbol: (match[4] ?? "").trim(),
    });
  }
  return rows;
}

/** Sums a recording's rows by category, busiest first, with its `topCount` busiest symbols. */
export function summarizeNative(rows: NativeSample[], topCount = 15): NativeSummary {
  const sums = new Map<NativeCategory, number>();
  for (const row of rows) {
    const category = categorize(row.dso, row.symbol);
    sums.set(category, (sums.get(category) ?? 0) + row.percent);
  }
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    samples: rows.reduce((sum, row) => sum + row.samples, 0),
    categories: [...sums]
      .map(([category, percent]) => ({ category, percent: round(percent) }))
      .sort((a, b) => b.percent - a.percent),
    top: [...rows]
      .sort((a, b) => b.percent - a.percent)
      .slice(0, topCount)
      .map((row) => ({ ...row, category: categorize(row.dso, row.symbol) })),
  };
}

/** `perf report` of a recording, summarised. */
export function readNativeProfile(file: string): NativeSummary {
  const report = execFileSync(
    "perf",
    ["report", "-i", file, "--stdio", "-n", "--no-children", "--sort", "dso,sym"],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "ignore"] },
  );
  return summarizeNative(parsePerfReport(report));
}

/**
 * Why no native profile can be recorded here, or undefined when it can: perf missing, or the
 * kernel refusing to let a process be sampled by its owner.
 */
export function nativeProfilerUnavailable(): string | undefined {
  try {
    execFileSync("perf", ["--version"], { stdio: "ignore" });
  } catch {
    return "Linux perf is not installed (apt install linux-perf)";
  }
  try {
    const paranoid = Number(readFileSync("/proc/sys/kernel/perf_event_paranoid", "utf8").trim());
    if (paranoid > 2)
      return `kernel.perf_event_paranoid is ${paranoid}: perf may not sample even one's own processes (≤ 2 needed)`;
  } catch {
    return "no /proc/sys/kernel/perf_event_paranoid: not Linux";
  }
  return undefined;
}

export interface NativeRecording {
  /** Stops the recording and resolves once perf has written its file. */
  stop(): Promise<void>;
}

/** Starts `perf record` of process `pid` into `file`, sampling at `hz` per second of CPU. */
export function startNativeProfile(pid: number, file: string, hz = 999): NativeRecording {
  const child: ChildProcess = spawn(
    "perf",
    ["record", "-F", String(hz), "-p", String(pid), "-o", file, "--quiet"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) =>
      code === 0 || signal === "SIGINT" || code === 130
        ? resolve()
        : reject(new Error(`perf record ended with ${code ?? signal}: ${stderr.trim()}`)),
    );
  });
  return {
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGINT");
      await exited;
    },
  };
}

/** The summary as a table: each category's share of workerd's samples and, given it, ms per turn. */
export function formatNative(summary: NativeSummary, cpuMsPerTurn?: number): string {
  const perTurn = (percent: number) =>
    cpuMsPerTurn === undefined ? "" : ` | ${((percent / 100) * cpuMsPerTurn).toFixed(2)}`;
  const head = cpuMsPerTurn === undefined ? "" : " | ms per turn";
  const lines = [
    `${summary.samples} samples of workerd (perf, every thread of the process).`,
    "",
    `| where | % of samples${head} |`,
    `| --- | ---:${cpuMsPerTurn === undefined ? "" : " | ---:"} |`,
    ...summary.categories.map(
      (c) => `| ${c.category} | ${c.percent.toFixed(1)}${perTurn(c.percent)} |`,
    ),
    "",
    "Busiest symbols:",
    ...summary.top.map(
      (row) => `  ${row.percent.toFixed(2)}%  ${row.symbol.slice(0, 110)}  (${row.category})`,
    ),
  ];
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: node scripts/native-profile.ts FILE.perf.data");
    process.exit(2);
  }
  console.log(formatNative(readNativeProfile(file)));
}
