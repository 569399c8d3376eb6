/**
 * `npm run bench`: one run — a freshly started app over fresh fakes, warmed up, its CPU while
 * every call streams with no turn, then the turns — and what it is reported with.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { type AnthropicEvent, startFakeAnthropic } from "../../test/fakes/anthropic/server.ts";
import { type DeepgramEvent, startFakeDeepgram } from "../../test/fakes/deepgram/server.ts";
import { QUIET_AFTER_MS } from "../../web/caller/audio/quiet-frames.ts";
import { type AppProcesses, findAppProcesses } from "../app-cpu.ts";
import { startAppProcess } from "../app-process.ts";
import type { CpuProfile } from "../cpu-profile.ts";
import { cpuSpan, snapshot } from "./cpu.ts";
import { type DelayRelay, startDelayRelay } from "./distance.ts";
import { figuresOf, type RunFigures } from "./figures.ts";
import { openLibraryPage } from "./library-call.ts";
import { Observed } from "./observed.ts";
import { runSession, type SessionResult } from "./session.ts";
import {
  APP_DIR,
  args,
  BURST_WINDOW_MS,
  COMPARE_DIR,
  CONDITIONS,
  type Condition,
  DISTANCE_MS,
  FRAME_MS,
  GAP_MS,
  IDLE_MS,
  idleMsFor,
  LISTEN,
  LISTEN_MS_PER_CHAR,
  MIN_IDLE_CALL_SECONDS,
  MIN_TURNS_PER_RUN,
  PAGE_FRAMES,
  PLACEMENT,
  PLAYOUT_DELAY_MS,
  QUIET_OTHERS_PCT,
  QUIET_WAIT_MS,
  replyText,
  round,
  sleep,
  TTS_TRANSPORT,
  TURNS,
  ttsTransportOf,
  turnsPerCall,
  UTTERANCE_MS,
  UTTERANCE_WORDS,
  utteranceText,
  WARMUP_CALLS,
  WARMUP_TURNS,
  yardstickOf,
} from "./settings.ts";
import { openAppPage, type PageTurn } from "./simulated-call.ts";
import { ensureLibraryInstalled, yardstickStart } from "./yardstick.ts";

function appEnv(fakes: { anthropic: string; deepgram: string }, condition: Condition) {
  return {
    // wrangler dev's local observability collector took most of the workerd thread under voice
    // load (../shared/reference/platform-facts.md): off, as production has none of it.
    X_LOCAL_OBSERVABILITY: "false",
    ANTHROPIC_API_KEY: "test-anthropic-key",
    ANTHROPIC_BASE_URL: fakes.anthropic,
    DEEPGRAM_API_KEY: "test-deepgram-key",
    DEEPGRAM_BASE_URL: fakes.deepgram,
    DEEPGRAM_TTS_TRANSPORT: TTS_TRANSPORT,
    ...(condition.flux ? { DEEPGRAM_STT_MODEL: "flux-general-en" } : {}),
  };
}

export let runCount = 0;

/**
 * The machine is shared: before the calls start, one second at a time until the other processes
 * take at most QUIET_OTHERS_PCT of it (at most QUIET_WAIT_MS); what was found is reported.
 */
async function awaitQuiet(processes: AppProcesses) {
  const since = performance.now();
  for (;;) {
    const a = snapshot(processes);
    await sleep(1_000);
    const cpu = cpuSpan(a, snapshot(processes));
    const waited = performance.now() - since;
    if (cpu.othersPct <= QUIET_OTHERS_PCT || waited > QUIET_WAIT_MS)
      return { others_pct: round(cpu.othersPct), waited_s: Math.round(waited / 1000) };
  }
}

/**
 * The profiled run's events on the bench's clock, and that clock's offset from CLOCK_MONOTONIC
 * (µs), which the profile's sample times are on: so samples can be laid along each turn.
 */
export interface Timeline {
  monotonicMinusBenchUs: number;
  wallMinusBenchUs: number;
  calls: { sessionId: string; tag: string; turns: PageTurn[] }[];
  stt: Record<string, DeepgramEvent[]>;
  tts: Record<string, DeepgramEvent[]>;
  model: Record<string, AnthropicEvent[]>;
}

function timelineOf(session: SessionResult, observed: Observed): Timeline {
  const monotonicMinusBenchUs = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
  return {
    monotonicMinusBenchUs,
    wallMinusBenchUs: performance.timeOrigin * 1000,
    calls: session.calls.map((c) => ({ sessionId: c.sessionId, tag: c.tag, turns: c.turns })),
    stt: Object.fromEntries(observed.stt),
    tts: Object.fromEntries(observed.tts),
    model: Object.fromEntries(observed.model),
  };
}

/**
 * `--direct`: the app workerd's own entry socket, where wrangler's proxy relays to. Its port is
 * chosen by workerd (`--socket-addr=entry=127.0.0.1:0`) and told only to wrangler, so it is found
 * among the process's listening sockets: the one that serves the caller page.
 */
async function entryUrlOf(workerdPid: number): Promise<string> {
  const listening = execFileSync("ss", ["-ltnpH"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(`pid=${workerdPid},`))
    .flatMap((line) => /127\.0\.0\.1:(\d+)/.exec(line)?.[1] ?? []);
  for (const port of listening) {
    const url = `http://127.0.0.1:${port}/`;
    const page = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
    if (page?.ok && (await page.text()).startsWith("<!doctype html>")) return url;
  }
  throw new Error(`--direct: no socket of workerd ${workerdPid} serves the caller page`);
}

/**
 * One condition at one number of calls: fresh fakes, a freshly started app, a warm-up call.
 * `profiled`: the turns are also sampled by the DevTools profiler (`profile`) or recorded by perf
 * into the file `nativeProfileTo`.
 */
export async function run(
  condition: Condition,
  n: number,
  profiled: { profile?: boolean; nativeProfileTo?: string } = {},
  appDir = APP_DIR,
): Promise<{ figures: RunFigures; profile?: CpuProfile; timeline: Timeline }> {
  runCount += 1;
  const observed = new Observed();
  const deepgram = await startFakeDeepgram({ onEvent: observed.deepgram });
  const anthropic = await startFakeAnthropic({ onEvent: observed.anthropic });
  const fakes = { anthropic: anthropic.url, deepgram: deepgram.url };
  const yardstick = yardstickOf(appDir);
  if (yardstick === "library" && condition.flux)
    throw new Error("the library yardstick has Nova's transcriber only: no Flux row for it");
  if (yardstick === "library") ensureLibraryInstalled();
  const openPage = yardstick === "library" ? openLibraryPage : openAppPage;
  // --distance: the far side's connections pass a relay that holds them (distance.ts).
  const relays: DelayRelay[] = [];
  const late = async (url: string, far: boolean) => {
    if (!far || DISTANCE_MS === 0) return url;
    const relay = await startDelayRelay(url, DISTANCE_MS);
    relays.push(relay);
    return relay.url;
  };
  const providersFar = PLACEMENT === "caller";
  const appFakes = {
    anthropic: await late(anthropic.url, providersFar),
    deepgram: await late(deepgram.url, providersFar),
  };
  const app = await startAppProcess(appEnv(appFakes, condition), {
    ...(yardstick ? { entry: yardstickStart(yardstick) } : appDir ? { cwd: appDir } : {}),
    ...(args["app-log"] ? { logTo: args["app-log"] } : {}),
  });
  try {
    const processes = findAppProcesses(Number(new URL(app.url).port));
    const pageUrl = await late(
      args.direct ? await entryUrlOf(processes.workerd) : app.url,
      !providersFar,
    );
    // The first turns after start compile and connect everything: not counted.
    const warm = await runSession(
      pageUrl,
      openPage,
      fakes,
      condition,
      WARMUP_CALLS,
      WARMUP_TURNS,
      `w${runCount}`,
      undefined,
    );
    if (warm.error) throw new Error(`the warm-up call failed: ${warm.error}`);
    const quiet = await awaitQuiet(processes);
    const session = await runSession(
      pageUrl,
      openPage,
      fakes,
      condition,
      n,
      turnsPerCall(n),
      `r${runCount}`,
      {
        processes,
        profile: profiled.profile ?? false,
        nativeProfileTo: profiled.nativeProfileTo,
        port: Number(new URL(app.url).port),
      },
    );
    return {
      figures: {
        ...figuresOf(condition, n, session, observed, processes, ttsTransportOf(appDir)),
        quiet_before: quiet,
      },
      ...(session.profile ? { profile: session.profile } : {}),
      timeline: timelineOf(session, observed),
    };
  } finally {
    await app.stop();
    for (const relay of relays) await relay.close();
    await anthropic.close();
    await deepgram.close();
  }
}

/**
 * Whether the kernel's DAMON (data access monitoring, which may reclaim memory workerd then
 * faults back in) runs: between two sittings on a machine where it is on, the same code has moved
 * by ×2 (docs/benchmarks.md, fourth session), so a run says what it ran beside.
 */
function damonState(): string {
  const root = "/sys/kernel/mm/damon/admin/kdamonds";
  try {
    const states = readdirSync(root)
      .filter((name) => /^\d+$/.test(name))
      .map((name) => readFileSync(`${root}/${name}/state`, "utf8").trim());
    return states.includes("on") ? "on (kdamond running)" : "off";
  } catch {
    return "not present";
  }
}

function startedBy(): string {
  const yardstick = yardstickOf(APP_DIR);
  if (yardstick === "floor") return "the floor relay's start.ts (scripts/bench-voice/floor)";
  if (yardstick === "library")
    return "the library yardstick's start.ts (scripts/bench-voice/library: @cloudflare/voice)";
  return `scripts/start.ts${APP_DIR ? ` from ${APP_DIR}` : ""}; embedded Postgres behind Neon's HTTP protocol`;
}

export function describeConditions() {
  return {
    machine: `2 cores; the kernel's DAMON memory monitor ${damonState()}`,
    runtime: `wrangler dev (workerd) on 127.0.0.1 started by ${startedBy()}; a fresh app per run, warmed up first by ${WARMUP_CALLS} calls of ${WARMUP_TURNS} turns (not counted)`,
    page_connection: args.direct
      ? "to the app's workerd entry socket directly (--direct): not through wrangler dev's proxy workerd"
      : "through wrangler dev's proxy workerd (its public port), as a developer's browser connects",
    distance:
      DISTANCE_MS === 0
        ? "none: the pages, the app and the fakes on one machine"
        : PLACEMENT === "providers"
          ? `the caller ${DISTANCE_MS} ms (one way) from the providers, the session object near the providers: every byte between the pages and the app held ${DISTANCE_MS} ms each way (distance.ts)`
          : `the caller ${DISTANCE_MS} ms (one way) from the providers, the session object near the caller: every byte between the app and the fake Deepgram and Anthropic held ${DISTANCE_MS} ms each way (distance.ts); the embedded Postgres is not held`,
    local_observability_collector:
      "off (X_LOCAL_OBSERVABILITY=false in wrangler dev's environment)",
    clock:
      "one clock: performance.now() of the benchmark's process, which runs the fake Deepgram (STT + Aura), the fake Anthropic and the caller pages (Node WebSocket clients)",
    caller_audio: `${
      PAGE_FRAMES
        ? `the page's frames (--frame-ms page): 20 ms while the caller speaks and for ${QUIET_AFTER_MS} ms after, then joined into messages of up to 100 ms (quiet-frames.ts); `
        : ""
    }${
      args["same-phase"]
        ? `${FRAME_MS} ms frames of 16 kHz PCM16 in real time, every call on the same tick (--same-phase)`
        : `${FRAME_MS} ms frames of 16 kHz PCM16 in real time, each call's clock its own: call i of N ticks i × ${FRAME_MS} / N ms into the frame`
    }`,
    utterance: `${UTTERANCE_MS} ms (${UTTERANCE_WORDS} words), e.g. "${utteranceText("[r1c7t", 2)}"`,
    next_turn: args.lockstep
      ? `every caller starts ${GAP_MS} ms after the LAST of the replies to the previous turn was received (rounded up to a frame): every turn ends in one frame for all calls (--lockstep)`
      : LISTEN
        ? `each caller listens: a reply is ${LISTEN_MS_PER_CHAR} ms of audio per character (about 4 s), and the caller starts ${GAP_MS} ms after it would have finished playing (its first frame + ${PLAYOUT_DELAY_MS} ms + its length; --listen)`
        : `each caller starts ${GAP_MS} ms after its reply's last audio frame was received (rounded up to a frame), as issue 11 paces them: after the first turn the calls drift apart`,
    burst: args["same-phase"]
      ? "all callers start together on one tick: their first turns end in the same instant"
      : `all callers start together: their first turns end within the same ${BURST_WINDOW_MS} ms, spread evenly over it`,
    idle_streaming: `${IDLE_MS / 1000} s, and at least ${MIN_IDLE_CALL_SECONDS} call-seconds (one call: ${idleMsFor(1) / 1000} s), every call signed in and streaming, no turn`,
    reply: `"${replyText(7)}" (Claude: one text_delta per word, ${replyText(7).split(/\s+/).length} tokens)`,
    page: `answers voice_metrics with playback_started (playoutDelayMs ${PLAYOUT_DELAY_MS}) and playback_clear with playback_stopped, as the page does; no greeting (no audio_ready)`,
    tts_transport: ttsTransportOf(APP_DIR),
    ...(yardstickOf(COMPARE_DIR) === "library"
      ? {
          library:
            "the baseline is Cloudflare's voice library (scripts/bench-voice/library/agent.ts: @cloudflare/voice 0.5.0, a minimal withVoice(Agent) agent, Claude through @anthropic-ai/sdk with no system prompt and no tools, Nova's socket, Aura over HTTP); its page speaks the library's protocol (library-call.ts)",
        }
      : {}),
    turns_per_call: `${TURNS}, and at least ${MIN_TURNS_PER_RUN} per run (one call: ${turnsPerCall(1)})`,
    provider_latency_ms: Object.fromEntries(
      CONDITIONS.map((c) => [
        c.name,
        {
          stt: c.flux ? "flux" : "nova",
          end_of_turn: c.endOfTurnMs,
          eager_end_of_turn: c.flux ? c.eagerMs : null,
          claude_first_token: c.claudeFirstTokenMs,
          per_token: c.tokenMs,
          aura_first_byte: c.auraFirstByteMs,
        },
      ]),
    ),
  };
}
