import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  categorize,
  nativeProfilerUnavailable,
  parsePerfReport,
  readNativeProfile,
  startNativeProfile,
  summarizeNative,
} from "../../scripts/native-profile.ts";

// What `perf report --stdio -n --no-children --sort dso,sym` prints for workerd, headers and all.
const REPORT = `# To display the perf.data header info, please use --header/--header-only options.
#
# Total Lost Samples: 0
#
# Samples: 3K of event 'cpu-clock:ppp'
# Event count (approx.): 1509000000
#
# Overhead       Samples  Shared Object         Symbol
# ........  ............  ....................  ......
#
    20.00%           200  [kernel.kallsyms]     [k] finish_task_switch.isra.0
    15.00%           150  [JIT] tid 5376        [.] 0x00007f1e2c0a1b2c
    10.00%           100  workerd               [.] Builtins_KeyedStoreIC_Megamorphic
    10.00%           100  workerd               [.] v8::internal::MarkCompactCollector::ProcessMarkingWorklist<(v8::internal::MarkCompactCollector::MarkingWorklistProcessingMode)0>
     8.00%            80  workerd               [.] kj::(anonymous namespace)::WebSocketImpl::receive
     7.00%            70  workerd               [.] tcmalloc::tcmalloc_internal::alloc_small_sampled_hooks_or_perthread<tcmalloc::tcmalloc_internal::TCMallocPolicy>
     6.00%            60  workerd               [.] _ZZN7workerd3jsg14MethodCallbackINS_6server29JsgWorkerdIsolate_TypeWrapperEXadsoKcL_ZZNS_3api9WebSoc
     5.00%            50  workerd               [.] <tokio::task::local::LocalSet>::run_until
     5.00%            50  workerd               [.] deflate_slow
     4.00%            40  workerd               [.] sqlite3VdbeExec
     4.00%            40  workerd               [.] workerd::api::LegacyWebSocketAdapter::pump
     3.00%            30  libc.so.6             [.] __memmove_avx512_unaligned_erms
     3.00%            30  workerd               [.] v8::internal::JsonStringifier::Serialize_<true>


#
# (Tip: To record callchains for each sample: perf record -g)
#
`;

describe("native profile (perf) of workerd", () => {
  it("reads perf's report rows and nothing else", () => {
    const rows = parsePerfReport(REPORT);
    expect(rows).toHaveLength(13);
    expect(rows[1]).toEqual({
      percent: 15,
      samples: 150,
      dso: "[JIT] tid 5376",
      symbol: "0x00007f1e2c0a1b2c",
    });
  });

  it("sorts each row into where in workerd its time went, mangled names included", () => {
    const where = parsePerfReport(REPORT).map((row) => categorize(row.dso, row.symbol));
    expect(where).toEqual([
      "kernel (syscalls, network, scheduling)",
      "JavaScript, compiled (JIT)",
      "V8 interpreter and built-ins",
      "V8 garbage collection",
      "KJ/Cap'n Proto event loop and I/O",
      "memory allocator",
      "workerd JS bindings (jsg)",
      "Rust (workerd's tokio side)",
      "zlib (WebSocket compression)",
      "SQLite (Durable Object storage)",
      "workerd APIs (fetch, WebSocket, storage)",
      "libc, other",
      "V8 runtime, other",
    ]);
  });

  it("sums the categories, busiest first, from the samples perf counted", () => {
    const summary = summarizeNative(parsePerfReport(REPORT), 3);
    expect(summary.samples).toBe(1000);
    expect(summary.categories[0]).toEqual({
      category: "kernel (syscalls, network, scheduling)",
      percent: 20,
    });
    expect(summary.categories.reduce((sum, c) => sum + c.percent, 0)).toBeCloseTo(100, 5);
    expect(summary.top.map((row) => row.symbol)).toEqual([
      "finish_task_switch.isra.0",
      "0x00007f1e2c0a1b2c",
      "Builtins_KeyedStoreIC_Megamorphic",
    ]);
  });

  const unavailable = nativeProfilerUnavailable();
  it.skipIf(unavailable !== undefined)(
    `records a running process and summarises it${unavailable ? ` (skipped: ${unavailable})` : ""}`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "native-profile-"));
      const busy = spawn(process.execPath, ["-e", "for(;;){JSON.stringify({a:[1,2,3]})}"], {
        stdio: "ignore",
      });
      try {
        const file = join(dir, "busy.perf.data");
        const recording = startNativeProfile(busy.pid as number, file);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await recording.stop();
        const summary = readNativeProfile(file);
        // A second of a busy process at 999 Hz: hundreds of samples, all of them categorised.
        expect(summary.samples).toBeGreaterThan(200);
        expect(summary.categories.reduce((sum, c) => sum + c.percent, 0)).toBeGreaterThan(99);
      } finally {
        busy.kill();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
