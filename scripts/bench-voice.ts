/**
 * `npm run bench`: spoken turns timed from OUTSIDE the Worker. The app runs under `wrangler dev`
 * with its local observability collector off (X_LOCAL_OBSERVABILITY=false); the fake Deepgram
 * (STT + Aura), the fake Anthropic and the simulated caller pages (Node WebSocket clients) all
 * run in this process, so every timestamp is this process's `performance.now()`: one clock.
 *
 * Each caller signs in, streams 100 ms frames of 16 kHz PCM in real time, streams a while with no
 * turn (the idle-streaming CPU), then speaks TURNS turns: utterances of 1.5 s (the fake reports
 * all of one at its end; its three words only have to be heard), the next one starting 400 ms
 * after the last reply's audio was all received (it is scripted into the fake Deepgram then — an
 * append to the session's script — at that point of the caller's audio). All
 * callers of a run start together: their first turns end in the same 100 ms frame (the burst), and
 * so does every later turn, as far as the protocol allows: turn k+1 of every call ends in one
 * frame, 400 ms + 1.5 s after the last of their replies to turn k was received (so a call whose
 * reply came early waits longer; the gaps are reported). `--staggered`: each caller's next turn
 * 400 ms after its own reply, and the turns drift apart.
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
 * streaming share of the same call-seconds is taken out). /proc counts in clock ticks of 10 ms.
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
 *   npm run bench -- --staggered             each caller's next turn after its own reply (see above)
 *   npm run bench -- --tts http              Aura over streaming HTTP instead of its WebSocket
 *   npm run bench -- --provider-calls 1,10   realistic / paced / flux at these numbers of calls
 *   npm run bench -- --app-dir /work/before  the app from another checkout (same bench, same fakes)
 *   npm run bench -- --timeline DIR          each run's raw events, to lay a profile or a trace along
 *   npm run bench -- --profile DIR           also one extra, profiled run (--profile-run instant:10):
 *                                            DIR/instant-10.cpuprofile (its timings are not reported)
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { AudioFrameFlag, AudioFrameKind, encodeAudioFrame } from "../protocol/audio-frame.ts";
import { parseServerMessage, type ServerMessageOf } from "../protocol/messages.ts";
import { type Step, scriptClaude } from "../test/fakes/anthropic/client.ts";
import { type AnthropicEvent, startFakeAnthropic } from "../test/fakes/anthropic/server.ts";
import {
  appendDeepgramUtterances,
  paceDeepgramTts,
  scriptDeepgram,
} from "../test/fakes/deepgram/client.ts";
import { type DeepgramEvent, startFakeDeepgram } from "../test/fakes/deepgram/server.ts";
import {
  type AppProcesses,
  type CpuSnapshot,
  cpuBetween,
  cpuSnapshot,
  cpuTickMs,
  findAppProcesses,
  processesCpuMs,
} from "./app-cpu.ts";
import { type AppProcess, startAppProcess } from "./app-process.ts";
import { type CpuProfile, startCpuProfile } from "./cpu-profile.ts";
import { type Summary, summary } from "./percentiles.ts";

const { values: args } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    /** Also write the JSON to this file (with the table on stdout). */
    out: { type: "string" },
    /** Numbers of calls for `instant` (the burst). */
    calls: { type: "string" },
    /** The former name of --calls. */
    concurrency: { type: "string" },
    /** Numbers of calls for the conditions with provider latencies. */
    "provider-calls": { type: "string", default: "1" },
    turns: { type: "string", default: "5" },
    conditions: { type: "string", default: "instant,realistic,paced" },
    "idle-seconds": { type: "string", default: "5" },
    /** Each caller's next turn 400 ms after its own reply: turns drift apart (no longer a burst). */
    staggered: { type: "boolean", default: false },
    /** Aura over its WebSocket (the app's default) or streaming HTTP. */
    tts: { type: "string", default: "websocket" },
    "app-dir": { type: "string" },
    /** Appends the app's output (its log lines) to this file. */
    "app-log": { type: "string" },
    profile: { type: "string" },
    /** Writes each run's events (the one clock, and its offsets to CLOCK_MONOTONIC and the wall clock) to DIR. */
    timeline: { type: "string" },
    "profile-run": { type: "string", default: "instant:10" },
  },
});

const TURNS = Number(args.turns);
const INSTANT_CALLS = (args.calls ?? args.concurrency ?? "1,10,50").split(",").map(Number);
const PROVIDER_CALLS = args["provider-calls"].split(",").map(Number);
const APP_DIR = args["app-dir"] ? resolve(args["app-dir"]) : undefined;
const TTS_TRANSPORT = args.tts === "http" ? "http" : "websocket";

const FRAME_MS = 100;
const FRAME_BYTES = FRAME_MS * 32; // 16 kHz PCM16
/**
 * An utterance: the caller speaks for 1.5 s. The fake Deepgram reports nothing of it before its
 * end (speech start, interim and final come together), so its words only have to be heard: three
 * words, which the fake places a quarter second apart before the end. A next turn is scripted
 * when the reply's last frame is known (assistant_done follows the reply's playing time), later
 * than 400 ms after it: the words must still be ahead of the audio then, or they are not heard.
 */
const UTTERANCE_MS = 1_500;
const UTTERANCE_WORDS = 3;
/** The fake's spacing of an utterance's words (listen.ts, timedWords). */
const WORD_MS = 250;
/** A reply counts as all received once no frame of it came for this long after assistant_done. */
const QUIET_MS = 100;
/** The caller starts speaking this long after the reply's audio was all received. */
const GAP_MS = 400;
/** Streaming before the idle window is measured: every STT socket open and settled. */
const SETTLE_MS = 1_500;
const IDLE_MS = Number(args["idle-seconds"]) * 1000;
/**
 * …and at least this many call-seconds: /proc counts in 10 ms ticks, and one call streams for a
 * few ms of CPU a second, so a single call streams longer (20 s) for a rate worth subtracting.
 */
const MIN_IDLE_CALL_SECONDS = 20;
const idleMsFor = (calls: number) =>
  Math.max(IDLE_MS, Math.ceil((MIN_IDLE_CALL_SECONDS * 1000) / calls / FRAME_MS) * FRAME_MS);
/** The first word of an utterance scripted later must still be ahead of the audio by this much. */
const SCRIPT_MARGIN_MS = 200;
/** The page's jitter buffer: what it reports as `playoutDelayMs` once a reply starts playing. */
const PLAYOUT_DELAY_MS = 60;
/** Warm-up calls and turns on every fresh app (not counted): JIT, connections, caches. */
const WARMUP_CALLS = 2;
const WARMUP_TURNS = 3;
const PINS = ["1234", "5678", "2468"]; // the seeded demo callers
/** Other processes above this share of the machine make a run's CPU figures doubtful. */
const NOISY_OTHERS_PCT = 25;
/** Before a run's calls start, other processes should take at most this much of the machine… */
const QUIET_OTHERS_PCT = 15;
/** …waited for this long at most (the development machine is shared). */
const QUIET_WAIT_MS = 20_000;

interface Condition {
  name: "instant" | "realistic" | "paced" | "realistic_flux";
  flux: boolean;
  endOfTurnMs: number;
  eagerMs: number;
  claudeFirstTokenMs: number;
  /** Before each text_delta (one per word). */
  tokenMs: number;
  auraFirstByteMs: number;
}

const CONDITIONS: Condition[] = [
  {
    name: "instant",
    flux: false,
    endOfTurnMs: 0,
    eagerMs: 0,
    claudeFirstTokenMs: 0,
    tokenMs: 0,
    auraFirstByteMs: 0,
  },
  {
    name: "realistic",
    flux: false,
    endOfTurnMs: 260,
    eagerMs: 0,
    claudeFirstTokenMs: 400,
    tokenMs: 0,
    auraFirstByteMs: 150,
  },
  {
    name: "paced",
    flux: false,
    endOfTurnMs: 260,
    eagerMs: 0,
    claudeFirstTokenMs: 400,
    tokenMs: 15,
    auraFirstByteMs: 150,
  },
  {
    name: "realistic_flux",
    flux: true,
    endOfTurnMs: 260,
    eagerMs: 100,
    claudeFirstTokenMs: 400,
    tokenMs: 0,
    auraFirstByteMs: 150,
  },
];

/** The reply every turn gets: one realistic shape, the call's number in it. */
const replyText = (call: number) =>
  `Call ${call}, your next task is the dentist, tomorrow at 3:30 pm. Anything else?`;
/** What caller `call` says in turn `turn`: six words, the first a tag the fakes are matched by. */
const callTag = (run: string, call: number) => `[${run}c${call}t`;
const utteranceText = (tag: string, turn: number) => `${tag}${turn}] what's next?`;

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the one clock of caller audio ------------------------------------------------------------

/**
 * Every call gets a frame on every tick (all callers start together), so the audio position is
 * the same for all of them: `frames × 100 ms`. Ticks are paced against the start, not chained.
 */
class AudioTicker {
  /** When each frame was sent (index n: the frame ending at (n + 1) × 100 ms). */
  readonly sentAt: number[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #start = 0;
  #stopped = false;

  readonly onTick: (audioMs: number) => void;

  constructor(onTick: (audioMs: number) => void) {
    this.onTick = onTick;
  }

  start() {
    this.#start = performance.now();
    this.#tick();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  get audioMs(): number {
    return this.sentAt.length * FRAME_MS;
  }

  /** Where the caller's audio stood at `at` (ms, between frames by the clock). */
  positionAt(at: number): number {
    let n = this.sentAt.length;
    while (n > 0 && (this.sentAt[n - 1] ?? 0) > at) n -= 1;
    if (n === 0) return 0;
    return (n - 1) * FRAME_MS + Math.min(FRAME_MS, at - (this.sentAt[n - 1] ?? at));
  }

  /** When the frame ending at `audioMs` was sent. */
  frameSentAt(audioMs: number): number | undefined {
    return this.sentAt[audioMs / FRAME_MS - 1];
  }

  #tick = () => {
    if (this.#stopped) return;
    this.sentAt.push(performance.now());
    this.onTick(this.audioMs);
    const next = this.#start + this.sentAt.length * FRAME_MS;
    this.#timer = setTimeout(this.#tick, Math.max(0, next - performance.now()));
  };
}

// ---- what the fakes saw ---------------------------------------------------------------------

class Observed {
  readonly stt = new Map<string, DeepgramEvent[]>();
  readonly tts = new Map<string, DeepgramEvent[]>();
  readonly model = new Map<string, AnthropicEvent[]>();
  readonly deepgram = (event: DeepgramEvent) => {
    if (event.tag === undefined) return; // the apology clip, prepared untagged
    const into = event.kind.startsWith("stt_") ? this.stt : this.tts;
    push(into, event.tag, event);
  };

  readonly anthropic = (event: AnthropicEvent) => push(this.model, event.tag, event);
}

function push<T>(map: Map<string, T[]>, key: string, value: T) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

// ---- one simulated caller page --------------------------------------------------------------

interface PageTurn {
  /** Where the utterance's last word ends in the caller's audio (ms). */
  endAudioMs: number;
  /** Scripted later than the gap asked for (its first words would have been in the past). */
  late: boolean;
  replyAt?: number;
  lastFrameAt?: number;
  doneAt?: number;
  frames: number;
  server?: ServerMessageOf<"voice_metrics">;
}

class SimulatedCall {
  readonly index: number;
  readonly tag: string;
  sessionId = "";
  readonly turns: PageTurn[] = [];
  /** The turn being answered (its reply's frames count there); then, all received. */
  current = 0;
  interruptions = 0;
  readonly #ws: WebSocket;
  #seq = 0;
  #metrics = 0;
  #onSignedIn: ((sessionId: string) => void) | undefined;
  #failed: ((error: Error) => void) | undefined;
  #onDone: (() => void) | undefined;
  /** A reply was all received (assistant_done after its audio): the bench places the next turn. */
  onReplyDone: ((call: SimulatedCall, turn: number) => void) | undefined;
  readonly #recent: string[] = [];

  constructor(url: string, index: number, tag: string) {
    this.index = index;
    this.tag = tag;
    this.#ws = new WebSocket(url);
    this.#ws.binaryType = "arraybuffer";
    this.#ws.addEventListener("message", (event) => this.#onMessage(event.data));
    this.#ws.addEventListener("close", () => this.#failed?.(new Error("socket closed")));
  }

  async signIn(pin: string): Promise<string> {
    if (this.#ws.readyState !== WebSocket.OPEN) {
      await new Promise((resolve, reject) => {
        this.#ws.addEventListener("open", resolve, { once: true });
        this.#ws.addEventListener("error", reject, { once: true });
      });
    }
    const signedIn = new Promise<string>((resolve, reject) => {
      this.#onSignedIn = resolve;
      this.#failed = reject;
    });
    this.#ws.send(JSON.stringify({ type: "sign_in", pin }));
    this.sessionId = await signedIn;
    return this.sessionId;
  }

  /** Resolves when every turn's reply was received, with the server's figures for it. */
  finished(turns: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#failed = reject;
      this.#onDone = () => {
        if (this.current >= turns && this.#metrics >= turns) resolve();
      };
      this.#onDone();
    });
  }

  /** One more frame of (silent) caller audio. */
  tick() {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#ws.send(encodeAudioFrame(AudioFrameKind.CallerPcm16k, this.#seq, SILENCE));
  }

  close() {
    this.#failed = undefined;
    this.#ws.close();
  }

  describe(turns: number): string {
    return `${this.current}/${turns} replies, ${this.#metrics} voice_metrics; last: ${this.#recent.join(", ")}`;
  }

  /** The reply's last frame is the one before a quiet moment after assistant_done. */
  #whenQuiet(turn: PageTurn) {
    const since = performance.now() - (turn.lastFrameAt ?? 0);
    if (turn.lastFrameAt !== undefined && since < QUIET_MS) {
      setTimeout(() => this.#whenQuiet(turn), QUIET_MS - since);
      return;
    }
    const index = this.current;
    this.current += 1;
    this.onReplyDone?.(this, index);
    this.#onDone?.();
  }

  #onMessage(data: unknown) {
    const now = performance.now();
    if (data instanceof ArrayBuffer) {
      const bytes = new Uint8Array(data);
      if (bytes[0] !== AudioFrameKind.AssistantPcm) return;
      const turn = this.turns[this.current];
      if (!turn) return;
      if ((bytes[1] ?? 0) & AudioFrameFlag.ReplyStart) turn.replyAt ??= now;
      turn.lastFrameAt = now;
      turn.frames += 1;
      return;
    }
    const parsed = parseServerMessage(String(data));
    if (!parsed.ok) return;
    const message = parsed.message;
    this.#recent.push(
      message.type === "transcript" ? `transcript(${message.entry.text.slice(-30)})` : message.type,
    );
    if (this.#recent.length > 12) this.#recent.shift();
    switch (message.type) {
      case "signed_in":
        return this.#onSignedIn?.(message.sessionId);
      case "playback_clear": {
        // Spoken over: answered as the page does, with what it played.
        this.interruptions += 1;
        const replyAt = this.turns[this.current]?.replyAt ?? now;
        const playedMs = Math.max(0, Math.round(now - replyAt));
        this.#ws.send(
          JSON.stringify({ type: "playback_stopped", turnId: message.turnId, playedMs }),
        );
        return;
      }
      case "voice_metrics": {
        if (message.endToEndPlayedMs !== null) return;
        const turn = this.turns[this.#metrics];
        if (turn) turn.server = message;
        this.#metrics += 1;
        // As the page does once its player started the reply.
        this.#ws.send(
          JSON.stringify({
            type: "playback_started",
            turnId: message.turnId,
            playoutDelayMs: PLAYOUT_DELAY_MS,
          }),
        );
        return this.#onDone?.();
      }
      case "assistant_done": {
        const turn = this.turns[this.current];
        if (!turn || turn.doneAt !== undefined) return;
        turn.doneAt = now;
        return this.#whenQuiet(turn);
      }
      case "error":
      case "session_ended":
        return this.#failed?.(new Error(JSON.stringify(message)));
    }
  }
}

const SILENCE = new Uint8Array(FRAME_BYTES);

// ---- CPU -------------------------------------------------------------------------------------

/** The app's workerds and this process (cpuSnapshot), and the app's whole process tree. */
interface Snapshot {
  cpu: CpuSnapshot;
  tree: number;
}

function snapshot(processes: AppProcesses): Snapshot {
  return { cpu: cpuSnapshot(processes), tree: processesCpuMs(processes.tree) };
}

type CpuSpan = ReturnType<typeof cpuBetween> & {
  /** The app's other processes: start.ts's Node (embedded Postgres), wrangler's Node, Kamailio. */
  helpersMs: number;
};

/** As cpuBetween, with the app's helper processes apart and left out of "others". */
function cpuSpan(a: Snapshot, b: Snapshot): CpuSpan {
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

// ---- one session of N calls on a running app -------------------------------------------------

interface SessionResult {
  calls: SimulatedCall[];
  ticker: AudioTicker;
  /** Workerd CPU while every call streamed with no turn, and over the turns. */
  idle?: CpuSpan;
  turnsCpu?: CpuSpan;
  eventLoopDelay: { p99: number; max: number };
  /** When the bench began closing the calls: a provider socket lost before then was lost mid-call. */
  endedAt?: number;
  profile?: CpuProfile;
  error?: string;
}

async function runSession(
  app: AppProcess,
  fakes: { anthropic: string; deepgram: string },
  condition: Condition,
  n: number,
  turns: number,
  runId: string,
  measure: { processes: AppProcesses; profile: boolean; port: number } | undefined,
): Promise<SessionResult> {
  const wsUrl = `${app.url.replace("http", "ws")}ws`;
  const calls = Array.from({ length: n }, (_, i) => new SimulatedCall(wsUrl, i, callTag(runId, i)));
  // The idle window (measured runs only), then the first utterance.
  const idleFrom = measure ? SETTLE_MS : 0;
  const idleTo = measure ? SETTLE_MS + idleMsFor(n) : 0;
  const firstEnd = Math.max(idleTo, SETTLE_MS) + UTTERANCE_MS;
  const step = (call: SimulatedCall): Step => ({
    kind: "text",
    text: replyText(call.index),
    latency: { firstTokenMs: condition.claudeFirstTokenMs, chunkMs: condition.tokenMs },
  });
  // Sign-ins go ten at a time: they all come from one address, whose PIN throttle counts
  // attempts in flight (a correct PIN gives its attempt back only once checked).
  const setUp = async (call: SimulatedCall) => {
    const sessionId = await call.signIn(PINS[call.index % PINS.length] ?? "1234");
    call.turns.push({ endAudioMs: firstEnd, late: false, frames: 0 });
    await scriptDeepgram(
      fakes.deepgram,
      sessionId,
      [
        {
          text: utteranceText(call.tag, 0),
          afterAudioMs: firstEnd,
          eager: condition.flux,
        },
      ],
      { endOfTurnDelayMs: condition.endOfTurnMs, eagerDelayMs: condition.eagerMs },
    );
    if (condition.auraFirstByteMs > 0)
      await paceDeepgramTts(fakes.deepgram, {
        session: sessionId,
        firstByteMs: condition.auraFirstByteMs,
      });
    await scriptClaude(fakes.anthropic, call.tag, Array(turns).fill(step(call)));
  };
  for (let first = 0; first < n; first += 10) {
    await Promise.all(calls.slice(first, first + 10).map(setUp));
  }

  let fail: (error: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  const snapshots: { idleFrom?: Snapshot; idleTo?: Snapshot } = {};
  let profiling: Promise<Profiler> | undefined;
  const ticker = new AudioTicker((audioMs) => {
    for (const call of calls) call.tick();
    if (!measure) return;
    if (audioMs === idleFrom) snapshots.idleFrom = snapshot(measure.processes);
    if (audioMs === idleTo) {
      if (measure.profile) profiling = startProfile(measure.port, measure.processes.inspectorPort);
      snapshots.idleTo = snapshot(measure.processes);
    }
  });
  const result: SessionResult = { calls, ticker, eventLoopDelay: { p99: 0, max: 0 } };

  // The next turn: GAP_MS after the reply's last frame, UTTERANCE_MS long, on a frame boundary.
  const placeNext = (call: SimulatedCall, doneTurn: number): number => {
    const turn = call.turns[doneTurn];
    const receivedAt = turn?.lastFrameAt ?? performance.now();
    let end =
      Math.ceil((ticker.positionAt(receivedAt) + GAP_MS + UTTERANCE_MS) / FRAME_MS) * FRAME_MS;
    const firstWordSpan = (UTTERANCE_WORDS - 1) * WORD_MS;
    const earliest =
      Math.ceil((ticker.audioMs + SCRIPT_MARGIN_MS + firstWordSpan) / FRAME_MS) * FRAME_MS;
    const late = end < earliest;
    if (late) end = earliest;
    call.turns.push({ endAudioMs: end, late, frames: 0 });
    return end;
  };
  const script = (call: SimulatedCall, turn: number, end: number) =>
    appendDeepgramUtterances(fakes.deepgram, call.sessionId, [
      { text: utteranceText(call.tag, turn), afterAudioMs: end, eager: condition.flux },
    ]).catch((error: unknown) => fail(error as Error));
  /** By default every call's turn k waits for the last call's reply k-1, then all end together. */
  const waiting: Map<number, { call: SimulatedCall; end: number }[]> = new Map();
  for (const call of calls) {
    call.onReplyDone = (c, done) => {
      const next = done + 1;
      if (next >= turns) return;
      const end = placeNext(c, done);
      if (args.staggered) return void script(c, next, end);
      const group = waiting.get(next) ?? [];
      group.push({ call: c, end });
      waiting.set(next, group);
      if (group.length < calls.length) return;
      const together = Math.max(...group.map((g) => g.end));
      for (const g of group) {
        const pageTurn = g.call.turns[next];
        if (pageTurn) pageTurn.endAudioMs = together;
        void script(g.call, next, together);
      }
    };
  }

  const deadlineMs = firstEnd + turns * 8_000 + 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const overdue = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const stuck = calls
        .map((call) => `  call ${call.index}: ${call.describe(turns)}`)
        .filter((line) => !line.includes(`${turns}/${turns} replies, ${turns} `));
      reject(new Error(`not every turn was answered in time:\n${stuck.join("\n")}`));
    }, deadlineMs);
  });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  ticker.start();
  try {
    await Promise.race([Promise.all(calls.map((call) => call.finished(turns))), overdue, failed]);
    if (measure && snapshots.idleFrom && snapshots.idleTo) {
      const end = snapshot(measure.processes);
      result.idle = cpuSpan(snapshots.idleFrom, snapshots.idleTo);
      result.turnsCpu = cpuSpan(snapshots.idleTo, end);
    }
  } catch (error) {
    result.error = (error as Error).message;
  } finally {
    delay.disable();
    clearTimeout(timer);
    result.endedAt = performance.now();
    ticker.stop();
    for (const call of calls) call.close();
    if (profiling) {
      const running = await profiling.catch(() => undefined);
      result.profile = await running?.stop();
    }
  }
  result.eventLoopDelay = { p99: round(delay.percentile(99) / 1e6), max: round(delay.max / 1e6) };
  return result;
}

// ---- figures ---------------------------------------------------------------------------------

interface TurnStages {
  call: number;
  turn: number;
  finalAt: number;
  finalToModelRequest: number;
  modelAnswering: number;
  firstTokenToTtsRequest: number;
  ttsAnswering: number;
  ttsAudioToPage: number;
  finalToAudio: number;
  overhead: number;
  /** The page's clock: the frame with the utterance's last word sent → the reply's first frame. */
  speechEndToAudio: number;
  serverAddedMs: number | null;
}

/** Each turn's stages, from the fakes' events and the page's; turns missing an event are left out. */
function stagesOf(session: SessionResult, observed: Observed, turns: number) {
  const stages: TurnStages[] = [];
  const missing: string[] = [];
  for (const call of session.calls) {
    const stt = observed.stt.get(call.sessionId) ?? [];
    const tts = observed.tts.get(call.sessionId) ?? [];
    const model = observed.model.get(call.tag) ?? [];
    for (let k = 0; k < turns; k++) {
      const words = `${call.tag}${k}]`;
      const page = call.turns[k];
      // The first sign the turn was over: the final (Nova), or Flux's EagerEndOfTurn.
      const final = stt.find((e) => e.text?.startsWith(words));
      const request = model.find((e) => e.kind === "model_request" && e.text.includes(words));
      const token = model.find(
        (e) =>
          e.kind === "model_first_token" && e.text.includes(words) && e.at >= (request?.at ?? 0),
      );
      const after = (kind: DeepgramEvent["kind"], from: number | undefined) =>
        from === undefined ? undefined : tts.find((e) => e.kind === kind && e.at >= from);
      const ttsRequest = after("tts_request", final?.at);
      // Over HTTP the request is complete as it arrives; on the socket at its Flush.
      const flush = TTS_TRANSPORT === "http" ? ttsRequest : after("tts_flush", ttsRequest?.at);
      const audio = after("tts_first_audio", flush?.at);
      const replyAt = page?.replyAt;
      if (!final || !request || !token || !ttsRequest || !flush || !audio || !replyAt || !page) {
        missing.push(
          `call ${call.index} turn ${k}: ${[
            !final && "final",
            !request && "model request",
            !token && "first token",
            !ttsRequest && "TTS request",
            !flush && "TTS flush",
            !audio && "TTS audio",
            !replyAt && "reply at the page",
          ]
            .filter(Boolean)
            .join(", ")} missing`,
        );
        continue;
      }
      const modelAnswering = token.at - request.at;
      const ttsAnswering = audio.at - flush.at;
      const finalToAudio = replyAt - final.at;
      const spokeUntil = session.ticker.frameSentAt(page.endAudioMs);
      stages.push({
        call: call.index,
        turn: k,
        finalAt: final.at,
        finalToModelRequest: request.at - final.at,
        modelAnswering,
        firstTokenToTtsRequest: ttsRequest.at - token.at,
        ttsAnswering,
        ttsAudioToPage: replyAt - audio.at,
        finalToAudio,
        overhead: finalToAudio - modelAnswering - ttsAnswering,
        speechEndToAudio: spokeUntil === undefined ? Number.NaN : replyAt - spokeUntil,
        serverAddedMs: page.server?.serverAddedMs ?? null,
      });
    }
  }
  return { stages, missing };
}

function auraSockets(session: SessionResult, observed: Observed) {
  const perCall = session.calls.map((call) => observed.tts.get(call.sessionId) ?? []);
  const endedAt = session.endedAt ?? Number.POSITIVE_INFINITY;
  const opened = perCall.map((events) => events.filter((e) => e.kind === "tts_socket_open").length);
  return {
    opened: opened.reduce((a, b) => a + b, 0),
    max_per_call: Math.max(0, ...opened),
    dropped_mid_call: perCall
      .flat()
      .filter((e) => e.kind === "tts_socket_close" && e.code === 1006 && e.at < endedAt).length,
  };
}

interface RunFigures {
  condition: string;
  calls: number;
  turns: number;
  turns_measured: number;
  final_to_audio_ms: Summary;
  final_to_model_request_ms: Summary;
  model_answering_ms: Summary;
  first_token_to_tts_request_ms: Summary;
  tts_answering_ms: Summary;
  tts_audio_to_page_ms: Summary;
  overhead_ms: Summary;
  speech_end_to_audio_ms: Summary;
  /** The Worker's own view (voice_metrics.serverAddedMs): blind to queueing and its own CPU. */
  worker_server_added_ms: Summary;
  /** The first turn alone: every call's first utterance ends in the same frame. */
  first_turn_final_to_audio_ms: Summary;
  /** How far apart the calls' finals were sent, per turn index (max − min, ms). */
  finals_spread_ms: number[];
  /** From a reply's last frame received to the caller starting the next utterance (ms). */
  gap_ms: Summary;
  /** Turns placed later than GAP_MS after the reply (it came too late to script them in time). */
  late_scripted_turns: number;
  interrupted_replies: number;
  cpu?: {
    tick_ms: number;
    streaming: {
      seconds: number;
      call_seconds: number;
      workerd_ms: number;
      workerd_ms_per_call_second: number;
      proxy_ms_per_call_second: number | null;
      helpers_ms_per_call_second: number;
      others_pct: number;
    };
    turns: {
      wall_ms: number;
      workerd_ms: number;
      proxy_ms: number | null;
      /** (workerd_ms − streaming share of the same call-seconds) / turns. */
      workerd_ms_per_turn: number;
      proxy_ms_per_turn: number | null;
      streaming_share_ms: number;
      /** The app's other processes (embedded Postgres in start.ts's Node, wrangler's Node…). */
      helpers_ms: number;
      machine_busy_pct: number;
      others_pct: number;
      bench_cpu_pct: number;
    };
  };
  bench_event_loop_delay_ms: { p99: number; max: number };
  /**
   * Aura over its WebSocket: the sockets the calls opened (the app keeps one per call), and those
   * that ended without a Close frame (code 1006) while the calls were still on.
   */
  aura_sockets?: { opened: number; max_per_call: number; dropped_mid_call: number };
  /** Other processes' share of the machine just before the calls started, and the wait for it. */
  quiet_before?: { others_pct: number; waited_s: number };
  missing?: string[];
  error?: string;
}

function figuresOf(
  condition: Condition,
  n: number,
  session: SessionResult,
  observed: Observed,
  processes: AppProcesses,
): RunFigures {
  const { stages, missing } = stagesOf(session, observed, TURNS);
  const s = (pick: (t: TurnStages) => number | null) =>
    summary(
      stages.flatMap((t) => {
        const v = pick(t);
        return v === null || Number.isNaN(v) ? [] : [v];
      }),
    );
  const spread: number[] = [];
  for (let k = 0; k < TURNS; k++) {
    const at = stages.filter((t) => t.turn === k).map((t) => t.finalAt);
    if (at.length) spread.push(round(Math.max(...at) - Math.min(...at)));
  }
  const figures: RunFigures = {
    condition: condition.name,
    calls: n,
    turns: n * TURNS,
    turns_measured: stages.length,
    final_to_audio_ms: s((t) => t.finalToAudio),
    final_to_model_request_ms: s((t) => t.finalToModelRequest),
    model_answering_ms: s((t) => t.modelAnswering),
    first_token_to_tts_request_ms: s((t) => t.firstTokenToTtsRequest),
    tts_answering_ms: s((t) => t.ttsAnswering),
    tts_audio_to_page_ms: s((t) => t.ttsAudioToPage),
    overhead_ms: s((t) => t.overhead),
    speech_end_to_audio_ms: s((t) => t.speechEndToAudio),
    worker_server_added_ms: s((t) => t.serverAddedMs),
    first_turn_final_to_audio_ms: summary(
      stages.filter((t) => t.turn === 0).map((t) => t.finalToAudio),
    ),
    finals_spread_ms: spread,
    gap_ms: summary(
      session.calls.flatMap((call) =>
        call.turns.slice(1).flatMap((turn, k) => {
          const receivedAt = call.turns[k]?.lastFrameAt;
          if (receivedAt === undefined) return [];
          return [turn.endAudioMs - UTTERANCE_MS - session.ticker.positionAt(receivedAt)];
        }),
      ),
    ),
    late_scripted_turns: session.calls.reduce(
      (sum, call) => sum + call.turns.filter((t) => t.late).length,
      0,
    ),
    interrupted_replies: session.calls.reduce((sum, call) => sum + call.interruptions, 0),
    bench_event_loop_delay_ms: session.eventLoopDelay,
    ...(TTS_TRANSPORT === "websocket" ? { aura_sockets: auraSockets(session, observed) } : {}),
    ...(missing.length ? { missing: missing.slice(0, 20) } : {}),
    ...(session.error ? { error: session.error } : {}),
  };
  const { idle, turnsCpu } = session;
  if (idle && turnsCpu) {
    const idleCallSeconds = (n * idle.wallMs) / 1000;
    const perCallSecond = idle.workerdMs / idleCallSeconds;
    const turnCallSeconds = (n * turnsCpu.wallMs) / 1000;
    const share = perCallSecond * turnCallSeconds;
    const proxyShare = (idle.proxyMs / idleCallSeconds) * turnCallSeconds;
    const turnCount = n * TURNS;
    figures.cpu = {
      tick_ms: cpuTickMs(),
      streaming: {
        seconds: round(idle.wallMs / 1000, 2),
        call_seconds: round(idleCallSeconds, 1),
        workerd_ms: Math.round(idle.workerdMs),
        workerd_ms_per_call_second: round(perCallSecond, 2),
        proxy_ms_per_call_second: processes.proxy ? round(idle.proxyMs / idleCallSeconds, 2) : null,
        helpers_ms_per_call_second: round(idle.helpersMs / idleCallSeconds, 2),
        others_pct: round(idle.othersPct),
      },
      turns: {
        wall_ms: Math.round(turnsCpu.wallMs),
        workerd_ms: Math.round(turnsCpu.workerdMs),
        proxy_ms: processes.proxy ? Math.round(turnsCpu.proxyMs) : null,
        workerd_ms_per_turn: round((turnsCpu.workerdMs - share) / turnCount, 2),
        proxy_ms_per_turn: processes.proxy
          ? round((turnsCpu.proxyMs - proxyShare) / turnCount, 2)
          : null,
        streaming_share_ms: Math.round(share),
        helpers_ms: Math.round(turnsCpu.helpersMs),
        machine_busy_pct: round(turnsCpu.machineBusyPct),
        others_pct: round(turnsCpu.othersPct),
        bench_cpu_pct: round((turnsCpu.selfMs / turnsCpu.wallMs) * 100),
      },
    };
  }
  return figures;
}

// ---- runs ------------------------------------------------------------------------------------

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

let runCount = 0;

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
interface Timeline {
  monotonicMinusBenchUs: number;
  wallMinusBenchUs: number;
  calls: { sessionId: string; turns: PageTurn[] }[];
  stt: Record<string, DeepgramEvent[]>;
  tts: Record<string, DeepgramEvent[]>;
  model: Record<string, AnthropicEvent[]>;
}

function timelineOf(session: SessionResult, observed: Observed): Timeline {
  const monotonicMinusBenchUs = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
  return {
    monotonicMinusBenchUs,
    wallMinusBenchUs: performance.timeOrigin * 1000,
    calls: session.calls.map((c) => ({ sessionId: c.sessionId, turns: c.turns })),
    stt: Object.fromEntries(observed.stt),
    tts: Object.fromEntries(observed.tts),
    model: Object.fromEntries(observed.model),
  };
}

/** One condition at one number of calls: fresh fakes, a freshly started app, a warm-up call. */
async function run(
  condition: Condition,
  n: number,
  profile = false,
): Promise<{ figures: RunFigures; profile?: CpuProfile; timeline: Timeline }> {
  runCount += 1;
  const observed = new Observed();
  const deepgram = await startFakeDeepgram({ onEvent: observed.deepgram });
  const anthropic = await startFakeAnthropic({ onEvent: observed.anthropic });
  const fakes = { anthropic: anthropic.url, deepgram: deepgram.url };
  const app = await startAppProcess(appEnv(fakes, condition), {
    ...(APP_DIR ? { cwd: APP_DIR } : {}),
    ...(args["app-log"] ? { logTo: args["app-log"] } : {}),
  });
  try {
    const processes = findAppProcesses(Number(new URL(app.url).port));
    // The first turns after start compile and connect everything: not counted.
    const warm = await runSession(
      app,
      fakes,
      condition,
      WARMUP_CALLS,
      WARMUP_TURNS,
      `w${runCount}`,
      undefined,
    );
    if (warm.error) throw new Error(`the warm-up call failed: ${warm.error}`);
    const quiet = await awaitQuiet(processes);
    const session = await runSession(app, fakes, condition, n, TURNS, `r${runCount}`, {
      processes,
      profile,
      port: Number(new URL(app.url).port),
    });
    return {
      figures: { ...figuresOf(condition, n, session, observed, processes), quiet_before: quiet },
      ...(session.profile ? { profile: session.profile } : {}),
      timeline: timelineOf(session, observed),
    };
  } finally {
    await app.stop();
    await anthropic.close();
    await deepgram.close();
  }
}

function describeConditions() {
  return {
    machine: "2 cores",
    runtime: `wrangler dev (workerd) on 127.0.0.1 started by scripts/start.ts${APP_DIR ? ` from ${APP_DIR}` : ""}; embedded Postgres behind Neon's HTTP protocol; a fresh app per run, warmed up first by ${WARMUP_CALLS} calls of ${WARMUP_TURNS} turns (not counted)`,
    local_observability_collector:
      "off (X_LOCAL_OBSERVABILITY=false in wrangler dev's environment)",
    clock:
      "one clock: performance.now() of the benchmark's process, which runs the fake Deepgram (STT + Aura), the fake Anthropic and the caller pages (Node WebSocket clients)",
    caller_audio: `${FRAME_MS} ms frames of 16 kHz PCM16 in real time, every call on the same tick`,
    utterance: `${UTTERANCE_MS} ms (${UTTERANCE_WORDS} words), e.g. "${utteranceText("[r1c7t", 2)}"`,
    next_turn: args.staggered
      ? `each caller starts ${GAP_MS} ms after its reply's last audio frame was received (rounded up to a frame): turns drift apart (--staggered)`
      : `every caller starts ${GAP_MS} ms after the LAST of the replies to the previous turn was received (rounded up to a frame): every turn ends in one frame for all calls`,
    burst: "all callers start together: their turns end in the same 100 ms frame",
    idle_streaming: `${IDLE_MS / 1000} s, and at least ${MIN_IDLE_CALL_SECONDS} call-seconds (one call: ${idleMsFor(1) / 1000} s), every call signed in and streaming, no turn`,
    reply: `"${replyText(7)}" (Claude: one text_delta per word, ${replyText(7).split(/\s+/).length} tokens)`,
    page: `answers voice_metrics with playback_started (playoutDelayMs ${PLAYOUT_DELAY_MS}) and playback_clear with playback_stopped, as the page does; no greeting (no audio_ready)`,
    tts_transport: TTS_TRANSPORT,
    turns_per_call: TURNS,
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

// ---- the CPU profile (--profile) ----------------------------------------------------------------

/**
 * scripts/profile-summary.ts, when there: it source-maps a profile while the app still runs (the
 * bundle's folder goes with it) and sums it by npm package and by stage of the voice pipeline.
 * Loaded by name and used only for what it offers, so the benchmark runs without it.
 */
interface Summariser {
  startSourceMappedProfile?: (appPort: number) => Promise<{ stop(): Promise<CpuProfile> }>;
  summarizeByPackageAndStage?: (
    profile: CpuProfile,
    options: { turns?: number; frames?: number; calls?: number },
  ) => unknown;
  formatBreakdown?: (breakdown: unknown, options: { markdown?: boolean }) => string;
}

let summariser: Promise<Summariser | undefined> | undefined;
function loadSummariser(): Promise<Summariser | undefined> {
  const file = join(import.meta.dirname, "profile-summary.ts");
  summariser ??= existsSync(file)
    ? (import(pathToFileURL(file).href) as Promise<Summariser>).catch((error: unknown) => {
        process.stderr.write(`[bench] profile-summary.ts: ${(error as Error).message}\n`);
        return undefined;
      })
    : Promise.resolve(undefined);
  return summariser;
}

interface Profiler {
  stop(): Promise<CpuProfile>;
}

/** Source-mapped by the summariser if it can, else a plain profile (cpu-profile.ts). */
async function startProfile(appPort: number, inspectorPort: number): Promise<Profiler> {
  const mod = await loadSummariser();
  if (mod?.startSourceMappedProfile) {
    try {
      return await mod.startSourceMappedProfile(appPort);
    } catch (error) {
      process.stderr.write(
        `[bench] source-mapped profile unavailable (${(error as Error).message}): a plain one\n`,
      );
    }
  }
  return startCpuProfile(inspectorPort);
}

async function writeProfile(
  profile: CpuProfile,
  name: string,
  counts: { turns: number; frames: number; calls: number },
) {
  const dir = args.profile;
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const mod = await loadSummariser();
  let text: string | undefined;
  let breakdown: unknown;
  try {
    breakdown = mod?.summarizeByPackageAndStage?.(profile, counts);
    if (breakdown !== undefined && mod?.formatBreakdown)
      text = mod.formatBreakdown(breakdown, { markdown: false });
  } catch (error) {
    text = `profile-summary.ts failed: ${(error as Error).message}`;
  }
  return { file, breakdown, text };
}

async function main() {
  const chosen = args.conditions.split(",");
  const plan: { condition: Condition; calls: number }[] = [];
  for (const condition of CONDITIONS) {
    if (!chosen.includes(condition.name)) continue;
    const counts = condition.name === "instant" ? INSTANT_CALLS : PROVIDER_CALLS;
    for (const calls of counts) plan.push({ condition, calls });
  }
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  log(
    `wrangler dev with its local observability collector OFF (X_LOCAL_OBSERVABILITY=false)${APP_DIR ? `; app from ${APP_DIR}` : ""}`,
  );
  const runs: Record<string, Record<string, RunFigures>> = {};
  for (const { condition, calls } of plan) {
    const started = performance.now();
    let figures: RunFigures;
    try {
      const done = await run(condition, calls);
      figures = done.figures;
      if (args.timeline) {
        mkdirSync(args.timeline, { recursive: true });
        writeFileSync(
          join(args.timeline, `${condition.name}-${calls}.timeline.json`),
          JSON.stringify(done.timeline),
        );
      }
    } catch (error) {
      figures = { condition: condition.name, calls, error: (error as Error).message } as RunFigures;
    }
    const byCalls = runs[condition.name] ?? {};
    byCalls[`c${calls}`] = figures;
    runs[condition.name] = byCalls;
    log(
      `${condition.name} × ${calls}: ${figures.error ? `FAILED: ${figures.error}` : "done"} (${Math.round((performance.now() - started) / 1000)} s)`,
    );
  }
  let profiled: Record<string, unknown> | undefined;
  if (args.profile) {
    const [name, count] = args["profile-run"].split(":");
    const condition = CONDITIONS.find((c) => c.name === name);
    if (!condition) throw new Error(`--profile-run: no condition ${name}`);
    const calls = Number(count ?? 10);
    log(`profiled run ${condition.name} × ${calls} (its timings are not the benchmark's)`);
    try {
      await loadSummariser();
      const { profile, figures, timeline } = await run(condition, calls, true);
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

  const output = {
    conditions: describeConditions(),
    runs,
    ...(profiled ? { profile: profiled } : {}),
  };
  if (args.out) writeFileSync(args.out, `${JSON.stringify(output, null, 2)}\n`);
  if (args.json) {
    console.log(JSON.stringify(output));
    return;
  }
  printTables(output.conditions, runs);
  if (profiled) {
    console.log(
      `\nCPU profile of an extra run, ${profiled.run} (not the benchmark's timings): ${profiled.file ?? profiled.error}`,
    );
    if (typeof profiled.text === "string") console.log(profiled.text);
  }
}

/** Columns padded to their widest cell; the first left-aligned, the others right-aligned. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

function printTables(
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
      `  Caller: ${conditions.caller_audio}; utterances of ${conditions.utterance}.`,
      `  Next turn: ${conditions.next_turn}; ${conditions.burst}.`,
      `  Streaming with no turn, for the CPU of audio alone: ${conditions.idle_streaming}.`,
      `  Reply: ${conditions.reply}; Aura over its ${conditions.tts_transport}.`,
      `  ${TURNS} turns per call. Provider latencies (ms): instant: all 0; realistic: end of turn 260, Claude first token 400, Aura first byte 150 (Nova); paced: realistic + 15 ms per token; realistic_flux: Flux, EagerEndOfTurn at 100.`,
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
    `\nCPU from /proc, ms (clock ticks of ${cpuTickMs()} ms), each run on a freshly started app:`,
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
  console.log(
    [
      "",
      "Goals (issue 11):",
      goal("instant × 1 overhead p50", find("instant", 1)?.overhead_ms.p50, 6),
      goal("instant × 10 overhead p50", find("instant", 10)?.overhead_ms.p50, 6),
      goal("instant × 50 burst final→audio p50", find("instant", 50)?.final_to_audio_ms.p50, 40),
      goal("instant × 50 burst final→audio p95", find("instant", 50)?.final_to_audio_ms.p95, 100),
      goal("paced × 1 final→audio p50", find("paced", 1)?.final_to_audio_ms.p50, 600),
      "  workerd CPU per turn ≤ half of today's: compare workerd/turn with a run of the previous code (--app-dir).",
    ].join("\n"),
  );
  const notes: string[] = [];
  for (const r of ok) {
    notes.push(
      `${name(r)}: finals spread per turn ${r.finals_spread_ms.join(", ")} ms; gap reply → next utterance p50 ${v(r.gap_ms.p50)}, p95 ${v(r.gap_ms.p95)} ms; bench event loop delay p99 ${r.bench_event_loop_delay_ms.p99} ms${r.aura_sockets ? `; Aura sockets opened ${r.aura_sockets.opened} (at most ${r.aura_sockets.max_per_call} per call)` : ""}`,
    );
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
      ...notes,
    ].join("\n"),
  );
}

await main();
