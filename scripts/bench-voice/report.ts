/** `npm run bench`: the tables it prints (the JSON is the same figures). */

import { cpuTickMs } from "../app-cpu.ts";
import { burstTurns, type RunFigures } from "./figures.ts";
import { describeRepeat } from "./repeats.ts";
import type { describeConditions } from "./runs.ts";
import {
  args,
  MIN_TURNS_PER_RUN,
  NOISY_OTHERS_PCT,
  PAGE_FRAMES,
  round,
  TURNS,
  turnsPerCall,
  yardstickOf,
} from "./settings.ts";

/** Columns padded to their widest cell; the first left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

export function printTables(
  conditions: ReturnType<typeof describeConditions>,
  runs: Record<string, Record<string, RunFigures>>,
) {
  const all = Object.values(runs).flatMap((byCalls) => Object.values(byCalls));
  const v = (value: number | null | undefined) =>
    value === null || value === undefined || Number.isNaN(value) ? "-" : String(value);
  const name = (r: RunFigures) => `${r.condition} × ${r.calls}`;
  console.log(
    [
      "Voice turns timed from outside the Worker: every timestamp on the benchmark's one clock.",
      `  Machine: ${conditions.machine}. ${conditions.runtime}.`,
      `  wrangler's local observability collector: ${conditions.local_observability_collector}.`,
      `  The pages connect ${conditions.page_connection}.`,
      `  Distance: ${conditions.distance}.`,
      `  Caller: ${conditions.caller_audio}; utterances of ${conditions.utterance}.`,
      `  Next turn: ${conditions.next_turn}; ${conditions.burst}.`,
      `  Streaming with no turn, for the CPU of audio alone: ${conditions.idle_streaming}.`,
      `  Reply: ${conditions.reply}; Aura over its ${conditions.tts_transport}.`,
      `  ${TURNS} turns per call, at least ${MIN_TURNS_PER_RUN} per run (one call: ${turnsPerCall(1)}). Provider latencies (ms): instant: all 0; realistic: end of turn 260, Claude first token 400, Aura first byte 150 (Nova); paced: realistic + 15 ms per token; realistic_flux: Flux, EagerEndOfTurn at 100.`,
      "",
      "Latency per turn, ms (p50 unless marked):",
    ].join("\n"),
  );
  const ok = all.filter((r) => r.final_to_audio_ms);
  console.log(
    table(
      [
        "run",
        "turns",
        "final→audio",
        "p95",
        "p99",
        "1st turn p50",
        "p95",
        "final→model",
        "model",
        "token→TTS",
        "TTS",
        "TTS→page",
        "overhead",
        "p95",
        "speech end→audio",
        "Worker's serverAddedMs",
        "p95",
        "finals spread",
      ],
      ok.map((r) => [
        name(r),
        `${r.turns_measured}/${r.turns}`,
        v(r.final_to_audio_ms.p50),
        v(r.final_to_audio_ms.p95),
        v(r.final_to_audio_ms.p99),
        v(r.first_turn_final_to_audio_ms.p50),
        v(r.first_turn_final_to_audio_ms.p95),
        v(r.final_to_model_request_ms.p50),
        v(r.model_answering_ms.p50),
        v(r.first_token_to_tts_request_ms.p50),
        v(r.tts_answering_ms.p50),
        v(r.tts_audio_to_page_ms.p50),
        v(r.overhead_ms.p50),
        v(r.overhead_ms.p95),
        v(r.speech_end_to_audio_ms.p50),
        v(r.worker_server_added_ms.p50),
        v(r.worker_server_added_ms.p95),
        v(r.finals_spread_ms.length ? Math.max(...r.finals_spread_ms) : null),
      ]),
    ),
  );
  for (const r of all.filter((r) => !r.final_to_audio_ms))
    console.log(`${name(r)}: FAILED: ${r.error?.split("\n")[0]}`);
  console.log(
    `\nCPU from /proc, ms (the workerds: their threads' run times, to the ns; helpers: clock ticks of ${cpuTickMs()} ms), each run on a freshly started app:`,
  );
  const cpu = ok.filter((r) => r.cpu);
  console.log(
    table(
      [
        "run",
        "streaming s",
        "workerd/call-s",
        "proxy/call-s",
        "turns wall s",
        "workerd (run)",
        "workerd/turn",
        "proxy",
        "proxy/turn",
        "helpers/call-s",
        "helpers (run)",
        "others %",
        "before %",
        "bench %",
      ],
      cpu.map((r) => {
        const c = r.cpu as NonNullable<RunFigures["cpu"]>;
        return [
          name(r),
          v(c.streaming.seconds),
          v(c.streaming.workerd_ms_per_call_second),
          v(c.streaming.proxy_ms_per_call_second),
          v(round(c.turns.wall_ms / 1000)),
          v(c.turns.workerd_ms),
          v(c.turns.workerd_ms_per_turn),
          v(c.turns.proxy_ms),
          v(c.turns.proxy_ms_per_turn),
          v(c.streaming.helpers_ms_per_call_second),
          v(c.turns.helpers_ms),
          `${v(c.turns.others_pct)}${c.turns.others_pct > NOISY_OTHERS_PCT ? " (busy)" : ""}`,
          v(r.quiet_before?.others_pct),
          v(c.turns.bench_cpu_pct),
        ];
      }),
    ),
  );
  const find = (condition: string, calls: number) =>
    ok.find((r) => r.condition === condition && r.calls === calls);
  const goal = (label: string, value: number | undefined, limit: number) =>
    value === undefined
      ? `  ${label}: not run`
      : `  ${label}: ${value} ms ${value <= limit ? "≤" : ">"} ${limit} ms ${value <= limit ? "(met)" : "(NOT met)"}`;
  const fifty = find("instant", 50);
  const burstOf50 = fifty && burstTurns(fifty);
  const burstLabel = `instant × 50 burst final→audio${burstOf50 ? ` (${burstOf50.which})` : ""}`;
  console.log(
    [
      "",
      `Goals (issue 11${args.lockstep ? "; measured with --lockstep, harder than the issue's pacing" : ""}):`,
      goal("instant × 1 overhead p50", find("instant", 1)?.overhead_ms.p50, 6),
      goal("instant × 10 overhead p50", find("instant", 10)?.overhead_ms.p50, 6),
      goal(`${burstLabel} p50`, burstOf50?.final_to_audio_ms.p50, 40),
      goal(`${burstLabel} p95`, burstOf50?.final_to_audio_ms.p95, 100),
      goal("paced × 1 final→audio p50", find("paced", 1)?.final_to_audio_ms.p50, 600),
      "  workerd CPU per turn ≤ half of today's: compare workerd/turn with the previous code run alongside (--compare DIR).",
    ].join("\n"),
  );
  const notes: string[] = [];
  for (const r of ok) {
    notes.push(
      `${name(r)}: finals spread per turn ${r.finals_spread_ms.join(", ")} ms; gap reply → next utterance p50 ${v(r.gap_ms.p50)}, p95 ${v(r.gap_ms.p95)} ms; bench event loop delay p99 ${r.bench_event_loop_delay_ms.p99} ms${r.aura_sockets ? `; Aura sockets opened ${r.aura_sockets.opened} (at most ${r.aura_sockets.max_per_call} per call)` : ""}`,
    );
    if (r.repeat) notes.push(`${name(r)}: ${describeRepeat(r.repeat)}`);
    if (r.late_scripted_turns)
      notes.push(`${name(r)}: ${r.late_scripted_turns} turns placed late (their reply came late)`);
    if (r.aura_sockets?.dropped_mid_call)
      notes.push(
        `${name(r)}: ${r.aura_sockets.dropped_mid_call} Aura sockets dropped without a Close frame mid-call (${r.aura_sockets.opened} opened for ${r.calls} calls)`,
      );
    if (r.interrupted_replies)
      notes.push(`${name(r)}: ${r.interrupted_replies} replies spoken over`);
    if (r.missing?.length) notes.push(`${name(r)}: turns not measured: ${r.missing.join("; ")}`);
    if (r.error) notes.push(`${name(r)}: ERROR ${r.error}`);
  }
  console.log(
    [
      "",
      "final→model: the STT final sent → Claude's request in; model: → its first token sent; token→TTS: → Aura got the text;",
      "TTS: the text complete (Flush) → first audio sent; TTS→page: → the page got the reply's first frame. final→audio: the whole;",
      "overhead = final→audio − model − TTS (what is not the providers'). speech end→audio: the page sent the utterance's last frame",
      "→ the reply's first frame (includes the STT's end of turn). 1st turn: the burst alone (every call's first turn ends in one frame).",
      "serverAddedMs is the Worker's own figure: it cannot see queueing before its code runs or after its send(), nor (in production) its own CPU.",
      "workerd/turn = (workerd CPU over the turns − the streaming rate × the same call-seconds) / turns; proxy = wrangler dev's proxy",
      "workerd (not in production); helpers = the app's other processes (start.ts's Node with the embedded Postgres, wrangler's Node,",
      "Kamailio): per call-second while streaming, and over the turns;",
      "others % = every other process, % of both cores, during the turns (before %: just before the calls started).",
      ...(PAGE_FRAMES
        ? [
            "--frame-ms page: the streaming rate is a quiet caller's (joined frames), but the bench's turns follow each other too closely",
            "for its callers to be quiet 2 s, so they stream at 20 ms: workerd/turn counts that difference too. Compare CPU over the turns.",
          ]
        : []),
      ...notes,
    ].join("\n"),
  );
}

/**
 * `--compare`: each row's key figures on the baseline app and on this one, from the same sitting,
 * and their ratio (this one / the baseline: below 1 is better).
 */
export function printComparison(
  baselineDir: string,
  baseline: Record<string, Record<string, RunFigures>>,
  runs: Record<string, Record<string, RunFigures>>,
) {
  const figures: [string, (r: RunFigures) => number | null | undefined][] = [
    ["final→audio p50", (r) => r.final_to_audio_ms?.p50],
    ["p95", (r) => r.final_to_audio_ms?.p95],
    // The burst alone (every call's first turn ends in one frame): the issue's burst goal.
    ["1st turn p50", (r) => r.first_turn_final_to_audio_ms?.p50],
    ["1st turn p95", (r) => r.first_turn_final_to_audio_ms?.p95],
    ["final→model", (r) => r.final_to_model_request_ms?.p50],
    ["token→TTS", (r) => r.first_token_to_tts_request_ms?.p50],
    ["TTS→page", (r) => r.tts_audio_to_page_ms?.p50],
    ["overhead p50", (r) => r.overhead_ms?.p50],
    ["workerd/turn", (r) => r.cpu?.turns.workerd_ms_per_turn],
    // Issue 11's own CPU column: workerd's CPU over the turns, the audio streamed meanwhile included.
    ["workerd (turns)", (r) => r.cpu?.turns.workerd_ms],
  ];
  const cell = (before: number | null | undefined, after: number | null | undefined) => {
    if (typeof before !== "number" || typeof after !== "number") return "-";
    const ratio = before > 0 ? ` (×${(after / before).toFixed(2)})` : "";
    return `${round(before)} → ${round(after)}${ratio}`;
  };
  const rows: string[][] = [];
  for (const [condition, byCalls] of Object.entries(runs)) {
    for (const [calls, after] of Object.entries(byCalls)) {
      const before = baseline[condition]?.[calls];
      if (!before) continue;
      rows.push([
        `${condition} × ${calls.slice(1)}`,
        ...figures.map(([, of]) => cell(of(before), of(after))),
      ]);
    }
  }
  console.log(
    [
      "",
      `Against ${baselineDir} (baseline → this checkout, ms; ratio this / baseline), each row's runs back to back:`,
      table(["run", ...figures.map(([name]) => name)], rows),
    ].join("\n"),
  );
  if (yardstickOf(baselineDir) === "library") printAgainstLibrary(baseline, runs);
}

/** Issue 11's title, row by row: ahead of the library on added time and on CPU, or not. */
function printAgainstLibrary(
  library: Record<string, Record<string, RunFigures>>,
  runs: Record<string, Record<string, RunFigures>>,
) {
  const lines: string[] = [];
  const verdict = (label: string, theirs: number | undefined, ours: number | undefined) =>
    theirs === undefined || ours === undefined || theirs <= 0
      ? `${label} -`
      : `${label} ×${(ours / theirs).toFixed(2)} ${ours < theirs ? "(ahead)" : "(NOT ahead)"}`;
  for (const [condition, byCalls] of Object.entries(runs)) {
    for (const [calls, ours] of Object.entries(byCalls)) {
      const theirs = library[condition]?.[calls];
      if (!theirs) continue;
      lines.push(
        `  ${condition} × ${calls.slice(1)}: ${[
          verdict("overhead p50", theirs.overhead_ms?.p50, ours.overhead_ms?.p50),
          verdict("final→audio p95", theirs.final_to_audio_ms?.p95, ours.final_to_audio_ms?.p95),
          verdict(
            "workerd CPU over the turns",
            theirs.cpu?.turns.workerd_ms,
            ours.cpu?.turns.workerd_ms,
          ),
        ].join("; ")}`,
      );
    }
  }
  console.log(
    ["", "Against the library (issue 11: ahead on CPU and added time):", ...lines].join("\n"),
  );
}
