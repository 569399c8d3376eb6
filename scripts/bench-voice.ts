/**
 * `npm run bench`: spoken turns timed from OUTSIDE the Worker. The app runs under `wrangler dev`
 * with its local observability collector off (X_LOCAL_OBSERVABILITY=false); the fake Deepgram
 * (STT + Aura), the fake Anthropic and the simulated caller pages (Node WebSocket clients) all
 * run in this process, so every timestamp is this process's `performance.now()`: one clock.
 *
 * Each caller signs in, streams 100 ms frames (`--frame-ms`) of 16 kHz PCM in real time, streams a while with no
 * turn (the idle-streaming CPU), then speaks TURNS turns (more with few calls: at least 20 a run):
 * utterances of 1.5 s (the fake reports all of one at its end; its three words only have to be
 * heard), the next one starting 400 ms
 * after the caller's reply's audio was all received (it is scripted into the fake Deepgram then —
 * an append to the session's script — at that point of the caller's audio), as issue 11 paces
 * them. All callers of a run start together, each caller's audio clock at its own phase in the
 * 100 ms window (call i of N starts i × 100 / N ms in, as real pages' microphones start whenever
 * they do): their first turns end within the same 100 ms (the burst, as issue 11 asks: "50
 * callers stop speaking within 100 ms"); later turns drift apart. `--same-phase`: every caller's
 * frames in one tick, so a burst's finals come in the same instant (harder). `--lockstep`: every later turn is a burst too — turn k+1 of
 * every call ends in one frame, 400 ms + 1.5 s after the last of their replies to turn k was
 * received (so a call whose reply came early waits longer; the gaps are reported).
 *
 * Per turn, on the one clock:
 *   final → model request   the fake Deepgram sent the final transcript → the fake Claude's request arrived
 *   model answering         request arrived → first text_delta sent (the scripted latency)
 *   first token → TTS req.  first text_delta sent → the fake Aura got the text (`Speak`)
 *   TTS answering           the text was complete (`Flush`) → first audio sent (scripted latency)
 *   TTS audio → page        first audio sent → the page got the reply's first frame (ReplyStart)
 *   final → audio           the final sent → the page got the reply's first frame
 *   overhead                final → audio − model answering − TTS answering
 * plus the Worker's own `serverAddedMs` (voice_metrics): its view of its added time, which cannot
 * see what happens before its code runs or after its `send()` (wrangler's proxy, the sockets,
 * queueing behind other Durable Object events on the one thread) — and which, in production,
 * cannot count its own CPU either (the clock stands still there during synchronous work).
 *
 * CPU from /proc per run, each run on a freshly started app (warm-up calls first, not counted):
 * the app's workerd (wrangler's proxy workerd and the app's helper processes apart, and the rest
 * of the machine as "others %") while every call streams with no turns (→ CPU per call-second of
 * streamed audio), then over the turns (→ workerd CPU of the run, and CPU per turn once the
 * streaming share of the same call-seconds is taken out). The workerds' CPU is their threads' run
 * times (/proc/PID/task/TID/schedstat, ns); the helpers' is in clock ticks of 10 ms.
 *
 * Conditions: `instant` (every provider answers at once: our overhead alone), `realistic` (end of
 * turn 260 ms, Claude's first token 400 ms, Aura's first byte 150 ms, Nova), `paced` (realistic,
 * and 15 ms per token, one token per word), `realistic_flux` (Flux with an EagerEndOfTurn 100 ms
 * after the last word; its "final" is the eager one).
 *
 *   npm run bench                            the table: instant × 1, 10, 50; realistic and paced × 1
 *   npm run bench -- --json                  one JSON object: runs.<condition>.c<N>.final_to_audio_ms.p50 …
 *   npm run bench -- --out FILE              the table, and the JSON written to FILE
 *   npm run bench -- --calls 1,10 --conditions instant --turns 3
 *   npm run bench -- --repeat 3              every row 3 times (fresh apps), reported as the median
 *   npm run bench -- --lockstep              every turn a burst: each waits for the last reply (see above)
 *   npm run bench -- --same-phase            every caller's frames on one tick (see above)
 *   npm run bench -- --direct                pages connect to the app's workerd, not via wrangler's proxy
 *   npm run bench -- --frame-ms 20           the caller page's own 20 ms frames (100 ms by default)
 *   npm run bench -- --frame-ms page         as the page sends them: 20 ms, joined while quiet
 *   npm run bench -- --listen                the caller listens to ~4 s replies before speaking again
 *   npm run bench -- --distance 40 --placement caller
 *                                            the caller 40 ms (one way) from the providers, the session
 *                                            object near the caller (default: near the providers)
 *   npm run bench -- --tts http              Aura over streaming HTTP instead of its WebSocket
 *   npm run bench -- --provider-calls 1,10   realistic / paced / flux at these numbers of calls
 *   npm run bench -- --app-dir /work/before  the app from another checkout (same bench, same fakes)
 *   npm run bench -- --compare /work/before  every row on that checkout's app too, back to back,
 *                                            and the two side by side with their ratios
 *   npm run bench -- --compare floor         every row on the floor relay too (floor/relay.ts: a turn
 *                                            with nothing on top, on the same runtime and path)
 *   npm run bench -- --compare library       every row on Cloudflare's voice library too (library/
 *                                            agent.ts: @cloudflare/voice with @anthropic-ai/sdk, its own
 *                                            page protocol, library-call.ts; its own pinned node_modules)
 *   npm run bench -- --timeline DIR          each run's raw events, to lay a profile or a trace along
 *   npm run bench -- --profile DIR           also one extra, profiled run (--profile-run instant:10):
 *                                            DIR/instant-10.cpuprofile (its timings are not reported)
 *   npm run bench -- --perf DIR              also one extra run with Linux perf recording the app's
 *                                            workerd (--profile-run names it): DIR/instant-10.perf.data
 *                                            and .perf.md, where workerd's CPU goes outside JavaScript
 *
 * The parts, in scripts/bench-voice/: settings (options, timing, conditions), simulated-call (a
 * caller page; library-call, the library's), yardstick (floor/ and library/), session (N calls on
 * a running app), runs (an app per run, its CPU), figures, report (the tables), cpu (/proc),
 * profile (--profile), audio-ticker and observed (the one clock, the fakes), distance (--distance).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stopAppsOnSignal } from "./app-process.ts";
import type { RunFigures } from "./bench-voice/figures.ts";
import { loadSummariser, writeProfile } from "./bench-voice/profile.ts";
import { combineRuns } from "./bench-voice/repeats.ts";
import { printComparison, printTables } from "./bench-voice/report.ts";
import { describeConditions, run } from "./bench-voice/runs.ts";
import {
  APP_DIR,
  args,
  COMPARE_DIR,
  CONDITIONS,
  type Condition,
  FRAME_MS,
  INSTANT_CALLS,
  PROVIDER_CALLS,
  REPEAT,
} from "./bench-voice/settings.ts";
import { formatNative, nativeProfilerUnavailable, readNativeProfile } from "./native-profile.ts";

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** The run `--profile-run` names (condition:calls), which --profile and --perf record. */
function profileRunSpec(): { condition: Condition; calls: number } {
  const [name, count] = args["profile-run"].split(":");
  const condition = CONDITIONS.find((c) => c.name === name);
  if (!condition) throw new Error(`--profile-run: no condition ${name}`);
  return { condition, calls: Number(count ?? 10) };
}

async function main() {
  stopAppsOnSignal();
  const chosen = args.conditions.split(",");
  const plan: { condition: Condition; calls: number }[] = [];
  for (const condition of CONDITIONS) {
    if (!chosen.includes(condition.name)) continue;
    const counts = condition.name === "instant" ? INSTANT_CALLS : PROVIDER_CALLS;
    for (const calls of counts) plan.push({ condition, calls });
  }
  log(
    `wrangler dev with its local observability collector OFF (X_LOCAL_OBSERVABILITY=false)${APP_DIR ? `; app from ${APP_DIR}` : ""}`,
  );
  const runs: Record<string, Record<string, RunFigures>> = {};
  const baseline: Record<string, Record<string, RunFigures>> = {};
  /** Each row's runs so far (--repeat), by condition, calls and side. */
  const repeats = new Map<string, RunFigures[]>();
  /** One row on one app; its figures go in `into`, its events in --timeline. */
  const runRow = async (
    condition: Condition,
    calls: number,
    into: Record<string, Record<string, RunFigures>>,
    appDir: string | undefined,
    label: string,
  ) => {
    const started = performance.now();
    const key = `${condition.name}-${calls}${label}`;
    const earlier = repeats.get(key) ?? [];
    repeats.set(key, earlier);
    const name = REPEAT > 1 ? `${key}-run${earlier.length + 1}` : key;
    let figures: RunFigures;
    try {
      const done = await run(condition, calls, {}, appDir);
      figures = done.figures;
      if (args.timeline) {
        mkdirSync(args.timeline, { recursive: true });
        writeFileSync(join(args.timeline, `${name}.timeline.json`), JSON.stringify(done.timeline));
      }
    } catch (error) {
      figures = { condition: condition.name, calls, error: (error as Error).message } as RunFigures;
    }
    earlier.push(figures);
    const byCalls = into[condition.name] ?? {};
    byCalls[`c${calls}`] = combineRuns(earlier);
    into[condition.name] = byCalls;
    log(
      `${condition.name} × ${calls}${label}${REPEAT > 1 ? ` (run ${earlier.length} of ${REPEAT})` : ""}: ${figures.error ? `FAILED: ${figures.error}` : "done"} (${Math.round((performance.now() - started) / 1000)} s)`,
    );
  };
  for (const [i, { condition, calls }] of plan.entries()) {
    for (let rep = 0; rep < REPEAT; rep++) {
      if (!COMPARE_DIR) {
        await runRow(condition, calls, runs, APP_DIR, "");
        continue;
      }
      // Back to back, the order alternating from run to run: a machine that drifts over the
      // sitting weighs on both sides alike.
      const sides = [
        () => runRow(condition, calls, baseline, COMPARE_DIR, "-baseline"),
        () => runRow(condition, calls, runs, APP_DIR, ""),
      ];
      if ((i + rep) % 2 === 1) sides.reverse();
      for (const side of sides) await side();
    }
  }
  let profiled: Record<string, unknown> | undefined;
  if (args.profile) {
    const { condition, calls } = profileRunSpec();
    log(`profiled run ${condition.name} × ${calls} (its timings are not the benchmark's)`);
    try {
      await loadSummariser();
      const { profile, figures, timeline } = await run(condition, calls, { profile: true });
      if (args.profile) {
        mkdirSync(args.profile, { recursive: true });
        writeFileSync(
          join(args.profile, `${condition.name}-${calls}.timeline.json`),
          JSON.stringify(timeline),
        );
      }
      const wallMs = figures.cpu?.turns.wall_ms ?? 0;
      const written = profile
        ? await writeProfile(profile, `${condition.name}-${calls}`, {
            turns: figures.turns,
            frames: Math.round((calls * wallMs) / FRAME_MS),
            calls,
          })
        : undefined;
      profiled = {
        run: `${condition.name} × ${calls}`,
        file: written?.file ?? null,
        note: "sampled every 100 µs over the turns period; timings under sampling are not reported",
        workerd_cpu_ms_while_profiled: figures.cpu?.turns.workerd_ms ?? null,
        ...(written?.breakdown === undefined ? {} : { breakdown: written.breakdown }),
        ...(written?.text === undefined ? {} : { text: written.text }),
      };
    } catch (error) {
      profiled = { run: `${condition.name} × ${calls}`, error: (error as Error).message };
    }
  }

  const native = args.perf ? await nativeProfileRun(args.perf) : undefined;

  const output = {
    conditions: describeConditions(),
    runs,
    ...(COMPARE_DIR ? { baseline: { app_dir: COMPARE_DIR, runs: baseline } } : {}),
    ...(profiled ? { profile: profiled } : {}),
    ...(native ? { native_profile: native } : {}),
  };
  if (args.out) writeFileSync(args.out, `${JSON.stringify(output, null, 2)}\n`);
  if (args.json) {
    console.log(JSON.stringify(output));
    return;
  }
  printTables(output.conditions, runs);
  if (COMPARE_DIR) printComparison(COMPARE_DIR, baseline, runs);
  if (profiled) {
    console.log(
      `\nCPU profile of an extra run, ${profiled.run} (not the benchmark's timings): ${profiled.file ?? profiled.error}`,
    );
    if (typeof profiled.text === "string") console.log(profiled.text);
  }
  if (native) {
    console.log(
      `\nNative CPU profile (perf) of an extra run, ${native.run} (not the benchmark's timings): ${native.file ?? native.error}`,
    );
    if (typeof native.text === "string") console.log(native.text);
  }
}

/**
 * `--perf DIR`: one extra run (the one `--profile-run` names) with perf recording the app's
 * workerd over its turns: DIR/<condition>-<calls>.perf.data, summarised by where in workerd the
 * CPU went. Skipped, with the reason, where perf cannot record.
 */
async function nativeProfileRun(dir: string): Promise<Record<string, unknown>> {
  const { condition, calls } = profileRunSpec();
  const label = `${condition.name} × ${calls}`;
  const unavailable = nativeProfilerUnavailable();
  if (unavailable) return { run: label, error: `not recorded: ${unavailable}` };
  log(`native profile (perf) of an extra run ${label} (its timings are not the benchmark's)`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${condition.name}-${calls}.perf.data`);
  try {
    const { figures } = await run(condition, calls, { nativeProfileTo: file });
    const summary = readNativeProfile(file);
    const cpu = figures.cpu?.turns;
    // The recording covers the turns' period, streaming included: its CPU over its turns.
    const msPerTurn = cpu && figures.turns ? cpu.workerd_ms / figures.turns : undefined;
    const text = formatNative(summary, msPerTurn);
    writeFileSync(join(dir, `${condition.name}-${calls}.perf.md`), `${text}\n`);
    return {
      run: label,
      file,
      workerd_cpu_ms_while_recorded: cpu?.workerd_ms ?? null,
      turns: figures.turns,
      summary,
      text: `${text}\nms per turn: workerd's CPU over the recorded period (the turns, and the audio streamed meanwhile) / turns.`,
    };
  } catch (error) {
    return { run: label, error: (error as Error).message };
  }
}

await main();
