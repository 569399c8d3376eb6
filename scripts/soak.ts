/**
 * `npm run soak`: many spoken calls for minutes against `npm start` over the provider fakes, with
 * faults injected at random, to show that no words are lost, no turn hangs and memory holds.
 *
 * Each call signs in, streams stamped caller audio (100 ms frames of five stamped 20 ms frames,
 * test/fakes/deepgram/stamp.ts) and speaks a turn, waits for the reply, pauses 1–4 s, speaks the
 * next. Turn k's words sit at a fixed place of the caller's stream (k × 60 s): between turns the
 * caller skips ahead to it, so the fake Deepgram's script can be written once, up front, whatever
 * the replies take. Faults, drawn per call or per turn:
 * - Deepgram: the socket dropped at a random moment, with an outage of 1–10 s after, or a first
 *   socket that never answers;
 * - Claude: 429, 529 or a stream that stalls past the idle deadline, then an answer;
 * - Aura: one sentence whose first byte never comes, or a `Warning` instead of audio.
 * Reported: turns answered (assistant_done after the caller's words), words lost and duplicated
 * (what the caller said against what the page's transcript shows), hung turns (no assistant_done
 * within HUNG_AFTER_MS), the RSS at start and end of the app's workerd and, apart, of wrangler
 * dev's proxy workerd in front of it, and errors and notices by kind.
 * Memory: `--rounds N` runs the calls N times on one app, RSS read as each round ends and
 * `--idle-seconds` after it hung up; `--heap` adds the isolate's heap after a full GC at each.
 *
 *   npm run soak                               50 calls, 10 minutes
 *   npm run soak -- --calls 5 --minutes 1 --json
 *   npm run soak -- --calls 20 --minutes 2 --rounds 3            RSS round after round
 *   npm run soak -- --calls 20 --minutes 2 --heap --heap-snapshot idle.heapsnapshot
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { AudioFrameKind, encodeAudioFrame } from "../protocol/audio-frame.ts";
import { parseServerMessage, type ServerMessage } from "../protocol/messages.ts";
import { type Step, scriptClaude } from "../test/fakes/anthropic/client.ts";
import { startFakeAnthropic } from "../test/fakes/anthropic/server.ts";
import { paceDeepgramTts, scriptDeepgram } from "../test/fakes/deepgram/client.ts";
import { startFakeDeepgram } from "../test/fakes/deepgram/server.ts";
import { FRAME_BYTES, FRAME_MS, stampedFrame } from "../test/fakes/deepgram/stamp.ts";
import { findAppProcesses } from "./app-cpu.ts";
import { startAppProcess, stopAppsOnSignal } from "./app-process.ts";
import { openInspector } from "./cpu-profile.ts";

const { values: args } = parseArgs({
  options: {
    calls: { type: "string", default: "50" },
    minutes: { type: "string", default: "10" },
    json: { type: "boolean", default: false },
    seed: { type: "string", default: "1" },
    "idle-seconds": { type: "string", default: "30" },
    /** Runs the calls this many times over, one round after another, on the same app. */
    rounds: { type: "string", default: "1" },
    /**
     * Also read the isolate's heap after a full GC at start, as the calls end, and idle. Each
     * reading takes a heap snapshot, which leaves workerd's RSS some 200–500 MB higher: the RSS
     * figures of such a run are not comparable with a run without.
     */
    heap: { type: "boolean", default: false },
    /** Where to keep the last heap snapshot (taken idle after the calls), for DevTools. */
    "heap-snapshot": { type: "string" },
  },
});
const CALLS = Number(args.calls);
const RUN_MS = Number(args.minutes) * 60_000;
/**
 * Rounds of CALLS calls, each after the last has hung up and IDLE_MS passed: memory that a round
 * keeps and the next reuses is a working set; memory each round adds again is a leak.
 */
const ROUNDS = Number(args.rounds);
/** Caller audio per WebSocket frame: 50 calls of 20 ms frames would saturate local workerd. */
const SEND_MS = 100;
/** Where turn k's words sit in the caller's stream. */
const TURN_SPACING_MS = 60_000;
/** A turn with no assistant_done this long after its last word has hung. */
const HUNG_AFTER_MS = 45_000;
/** How long after every call hung up the last readings are taken (objects idle, or evicted). */
const IDLE_MS = Number(args["idle-seconds"]) * 1_000;
const PINS = ["1234", "5678", "2468"]; // the seeded demo callers
const REPLY = "Done, it's on your list. Anything else?";

/** A small seeded generator, so a run can be repeated. */
let rngState = Number(args.seed) >>> 0 || 1;
function random(): number {
  rngState = (rngState * 1_664_525 + 1_013_904_223) >>> 0;
  return rngState / 0x1_0000_0000;
}
const between = (lo: number, hi: number) => Math.round(lo + random() * (hi - lo));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const counts = new Map<string, number>();
const count = (kind: string, n = 1) => counts.set(kind, (counts.get(kind) ?? 0) + n);

/** Turn k of call i: unique words, so a word lost or heard twice shows. */
const utterance = (call: number, turn: number) =>
  `soak c${call} t${turn} please add oat milk and eggs to my list`;
const turnEndsAt = (turn: number) => turn * TURN_SPACING_MS + 4_000;

function claudeSteps(turns: number): Step[] {
  const steps: Step[] = [];
  for (let k = 0; k < turns; k++) {
    const roll = random();
    if (roll < 0.04) steps.push({ kind: "error", status: 429, retryAfterSeconds: 0 });
    else if (roll < 0.08) steps.push({ kind: "error", status: 529 });
    else if (roll < 0.1)
      steps.push({ kind: "text", text: "too late", latency: { firstTokenMs: 20_000 } });
    steps.push({ kind: "text", text: REPLY, latency: { firstTokenMs: between(100, 500) } });
  }
  return steps;
}

interface CallFigures {
  turnsSpoken: number;
  turnsAnswered: number;
  apologies: number;
  /** Turns whose reply was lost with a dropped socket (the session resumed after). */
  cutByReconnect: number;
  hung: string[];
  expectedWords: string[];
  heardWords: string[];
}

class SoakCall {
  #ws: WebSocket;
  readonly #url: string;
  readonly #index: number;
  readonly figures: CallFigures = {
    turnsSpoken: 0,
    turnsAnswered: 0,
    apologies: 0,
    cutByReconnect: 0,
    hung: [],
    expectedWords: [],
    heardWords: [],
  };
  #frame = 0;
  #waiters = new Set<(m: ServerMessage) => void>();
  /** The caller's words already counted, by transcript entry (a resume sends them all again). */
  readonly #seen = new Set<string>();
  #session = "";
  #token = "";
  /** Sockets lost under the call (a runtime restart or reload), each resumed as the page does. */
  #drops = 0;
  #resuming = false;
  #closing = false;
  /** Gone for good: hung up, or could not resume. */
  closed = false;

  constructor(url: string, index: number) {
    this.#url = url;
    this.#index = index;
    this.#ws = this.#attach(new WebSocket(url));
  }

  #attach(ws: WebSocket): WebSocket {
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event) => {
      if (event.data instanceof ArrayBuffer) return;
      const parsed = parseServerMessage(String(event.data));
      if (!parsed.ok) return count("invalid_server_message");
      const m = parsed.message;
      if (m.type === "error") count(`error:${m.code}`);
      if (m.type === "notice") count(`notice:${m.code}`);
      if (m.type === "session_ended") count(`session_ended:${m.reason}`);
      if (m.type === "transcript") this.#heard(m.entry);
      if (m.type === "signed_in") {
        this.#session = m.sessionId;
        this.#token = m.resumeToken;
        for (const entry of m.transcript) this.#heard(entry);
      }
      if (m.type === "playback_clear") {
        count("barge_in");
        ws.send(JSON.stringify({ type: "playback_stopped", turnId: m.turnId, playedMs: 0 }));
      }
      for (const wake of this.#waiters) wake(m);
    });
    ws.addEventListener("close", () => {
      // A failed resume attempt is the resume loop's to retry, not a new drop.
      if (ws === this.#ws && !this.#resuming) {
        if (this.#closing || !this.#session) this.closed = true;
        else void this.#resume();
      }
      for (const wake of this.#waiters) wake({ type: "pong", t: 0 });
    });
    return ws;
  }

  #heard(entry: { id: string; role: string; text: string }) {
    if (entry.role !== "user" || this.#seen.has(entry.id)) return;
    this.#seen.add(entry.id);
    this.figures.heardWords.push(...entry.text.split(/\s+/));
  }

  /** The socket dropped under the call: resume the session with its token, as the page does. */
  async #resume() {
    this.#drops += 1;
    this.#resuming = true;
    count("socket_dropped");
    const giveUpAt = Date.now() + 120_000;
    while (Date.now() < giveUpAt) {
      await sleep(1_000);
      const url = new URL(this.#url);
      url.searchParams.set("session", this.#session);
      const ws = new WebSocket(url.toString());
      const signedIn = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 15_000);
        ws.addEventListener("message", (event) => {
          const parsed = parseServerMessage(String(event.data));
          if (!parsed.ok) return;
          if (parsed.message.type === "hello")
            ws.send(JSON.stringify({ type: "resume", token: this.#token }));
          if (parsed.message.type === "signed_in") {
            clearTimeout(timer);
            resolve(true);
          }
        });
        ws.addEventListener("close", () => resolve(false));
        ws.addEventListener("error", () => resolve(false));
      });
      this.#ws = this.#attach(ws);
      if (await signedIn) {
        count("resumed");
        this.#resuming = false;
        return;
      }
    }
    count("resume_failed");
    this.closed = true;
    this.#resuming = false;
  }

  /** Resolves with the first message passing `test`, or undefined after `ms`, a drop or a close. */
  #until(test: (m: ServerMessage) => boolean, ms: number): Promise<ServerMessage | undefined> {
    return new Promise((resolve) => {
      const done = (m: ServerMessage | undefined) => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(m);
      };
      const wake = (m: ServerMessage) => {
        if (this.closed || this.#resuming) done(undefined);
        else if (test(m)) done(m);
      };
      const timer = setTimeout(() => done(undefined), ms);
      this.#waiters.add(wake);
    });
  }

  async signIn(): Promise<string> {
    if (this.#ws.readyState !== WebSocket.OPEN)
      await new Promise((resolve, reject) => {
        this.#ws.addEventListener("open", resolve, { once: true });
        this.#ws.addEventListener("error", reject, { once: true });
      });
    const signedIn = this.#until(
      (m) => m.type === "signed_in" || m.type === "pin_rejected",
      30_000,
    );
    this.#ws.send(JSON.stringify({ type: "sign_in", pin: PINS[this.#index % PINS.length] }));
    const m = await signedIn;
    if (m?.type !== "signed_in") throw new Error(`call ${this.#index}: sign-in failed: ${m?.type}`);
    return m.sessionId;
  }

  /**
   * Caller audio in real time up to `untilMs` of the stream (stamped where it sits). While the
   * socket is being resumed the caller's stream waits: what is measured is the app's loss, not
   * audio a page could not send.
   */
  async #streamTo(untilMs: number) {
    while (this.#frame * FRAME_MS < untilMs && !this.closed) {
      if (this.#resuming || this.#ws.readyState !== WebSocket.OPEN) {
        await sleep(SEND_MS);
        continue;
      }
      const per = SEND_MS / FRAME_MS;
      const pcm = new Uint8Array(FRAME_BYTES * per);
      for (let i = 0; i < per; i++) pcm.set(stampedFrame(this.#frame + i), i * FRAME_BYTES);
      this.#ws.send(encodeAudioFrame(AudioFrameKind.CallerPcm16k, this.#frame & 0xffff, pcm));
      this.#frame += per;
      await sleep(SEND_MS);
    }
  }

  /** Turns until `endAt`: speak, wait for the reply while the microphone streams on, pause. */
  async run(endAt: number) {
    for (let turn = 0; Date.now() < endAt && !this.closed; turn++) {
      // Skip ahead to 1 s before turn k's words start, then speak them in real time.
      this.#frame = Math.max(this.#frame, (turn * TURN_SPACING_MS) / FRAME_MS);
      await this.#streamTo(turnEndsAt(turn));
      if (this.closed) break;
      this.figures.turnsSpoken += 1;
      this.figures.expectedWords.push(...utterance(this.#index, turn).split(/\s+/));
      const tag = ` t${turn} `;
      const drops = this.#drops;
      let heard = false;
      const replied = this.#until((m) => {
        if (m.type === "transcript" && m.entry.role === "user" && m.entry.text.includes(tag))
          heard = true;
        return heard && m.type === "assistant_done";
      }, HUNG_AFTER_MS);
      // The microphone stays open while the reply comes, as the page's does.
      let waiting = true;
      const mic = (async () => {
        while (waiting && !this.closed) await this.#streamTo(this.#frame * FRAME_MS + SEND_MS);
      })();
      const done = await replied;
      if (done?.type === "assistant_done") {
        this.figures.turnsAnswered += 1;
        if (/^Sorry/.test(done.entry.text)) this.figures.apologies += 1;
        await sleep(between(1_000, 4_000));
      } else if (this.#drops > drops || this.#resuming) {
        // The turn's reply went with the old socket; its words are checked all the same.
        this.figures.cutByReconnect += 1;
        while (this.#resuming && !this.closed) await sleep(200);
      } else if (!this.closed) {
        this.figures.hung.push(
          `call ${this.#index} turn ${turn} (${heard ? "heard" : "not heard"})`,
        );
      }
      waiting = false;
      await mic;
    }
  }

  close() {
    this.#closing = true;
    this.#ws.close();
  }
}

/** A process's resident memory, MB (0 once it is gone). */
function rssMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return Math.round(Number(rss?.[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}

/**
 * The resident memory of the app's workerd and of wrangler dev's proxy workerd in front of it,
 * each on its own: the proxy relays every socket, is not in production, and grows on its own.
 */
interface WorkerdRss {
  app: number;
  proxy: number;
}

/**
 * The isolate's JavaScript heap in use after a full garbage collection, MB, read through wrangler
 * dev's inspector: RSS alone cannot tell live objects from memory V8 and the allocator keep.
 * workerd's inspector does not answer `HeapProfiler.collectGarbage`; a heap snapshot collects
 * garbage before it is taken, so one is taken (and, with `saveTo`, kept for DevTools' Memory tab).
 */
async function heapAfterGcMb(inspectorPort: number, saveTo?: string): Promise<number> {
  const chunks: string[] = [];
  const inspector = await openInspector(inspectorPort, (method, params) => {
    if (saveTo && method === "HeapProfiler.addHeapSnapshotChunk")
      chunks.push((params as { chunk: string }).chunk);
  });
  try {
    await inspector.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    const usage = (await inspector.call("Runtime.getHeapUsage")) as { usedSize: number };
    if (saveTo) writeFileSync(saveTo, chunks.join(""));
    return Math.round(usage.usedSize / 1024 / 102.4) / 10;
  } finally {
    inspector.close();
  }
}

function wordDiff(expected: string[], heard: string[]) {
  const left = new Map<string, number>();
  for (const w of heard) left.set(w, (left.get(w) ?? 0) + 1);
  let lost = 0;
  for (const w of expected) {
    const n = left.get(w) ?? 0;
    if (n > 0) left.set(w, n - 1);
    else lost += 1;
  }
  const duplicated = [...left.values()].reduce((a, b) => a + b, 0);
  return { lost, duplicated };
}

async function main() {
  stopAppsOnSignal();
  const anthropic = await startFakeAnthropic();
  const deepgram = await startFakeDeepgram();
  const app = await startAppProcess({
    ANTHROPIC_API_KEY: "test-anthropic-key",
    ANTHROPIC_BASE_URL: anthropic.url,
    DEEPGRAM_API_KEY: "test-deepgram-key",
    DEEPGRAM_BASE_URL: deepgram.url,
    // wrangler dev's local observability collector takes most of workerd's thread under load.
    X_LOCAL_OBSERVABILITY: "false",
  });
  const log = (line: string) => !args.json && process.stderr.write(`[soak] ${line}\n`);
  const processes = findAppProcesses(Number(new URL(app.url).port));
  const rssPeak: WorkerdRss = { app: 0, proxy: 0 };
  const readRss = (): WorkerdRss => {
    const rss = { app: rssMb(processes.workerd), proxy: rssMb(processes.proxy) };
    rssPeak.app = Math.max(rssPeak.app, rss.app);
    rssPeak.proxy = Math.max(rssPeak.proxy, rss.proxy);
    return rss;
  };
  const rssStart = readRss();
  const readHeap = (saveTo?: string) =>
    args.heap || saveTo ? heapAfterGcMb(app.inspectorPort, saveTo) : Promise.resolve(undefined);
  const heapStart = await readHeap();
  const startedAt = Date.now();
  const maxTurns = Math.ceil(RUN_MS / 5_000) + 2;
  const wsUrl = `${app.url.replace("http", "ws")}ws`;
  const calls: SoakCall[] = [];
  const faults = { deepgram_drop: 0, deepgram_outage: 0, deepgram_silent: 0, aura: 0 };
  /** RSS each minute of the run, to tell a leak (steady growth) from a working set (a plateau). */
  const rssByMinute: WorkerdRss[] = [];
  /** Each round's memory as its calls end and once they have all hung up. */
  const rounds: {
    rss_end: WorkerdRss;
    rss_idle: WorkerdRss;
    heap_end?: number;
    heap_idle?: number;
  }[] = [];
  const sampler = setInterval(() => {
    const rss = readRss();
    if (Math.floor((Date.now() - startedAt) / 60_000) > rssByMinute.length) rssByMinute.push(rss);
  }, 10_000);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const endAt = Date.now() + RUN_MS;
      // Each round's calls are new sessions with indexes of their own: new scripts in the fakes.
      const firstIndex = round * CALLS;
      const roundCalls = Array.from(
        { length: CALLS },
        (_, i) => new SoakCall(wsUrl, firstIndex + i),
      );
      calls.push(...roundCalls);
      const runs = roundCalls.map(async (call, i) => {
        const index = firstIndex + i;
        await sleep(i * 200); // calls join over ten seconds, not all at once
        const session = await call.signIn();
        const roll = random();
        const sttFaults =
          roll < 0.25
            ? { dropAfterAudioMs: between(20_000, RUN_MS / 2) }
            : roll < 0.5
              ? { dropAfterAudioMs: between(20_000, RUN_MS / 2), outageMs: between(1_000, 10_000) }
              : roll < 0.6
                ? { silentConnections: 1 }
                : {};
        if ("outageMs" in sttFaults) faults.deepgram_outage += 1;
        else if ("dropAfterAudioMs" in sttFaults) faults.deepgram_drop += 1;
        else if ("silentConnections" in sttFaults) faults.deepgram_silent += 1;
        await scriptDeepgram(
          deepgram.url,
          session,
          Array.from({ length: maxTurns }, (_, k) => ({
            text: utterance(index, k),
            afterAudioMs: turnEndsAt(k),
          })),
          { endOfTurnDelayMs: 260, ...sttFaults },
        );
        await scriptClaude(anthropic.url, `soak c${index} `, claudeSteps(maxTurns));
        const aura = random() < 0.5;
        const auraAt = between(10_000, RUN_MS / 2);
        const auraFault = async () => {
          await sleep(auraAt);
          faults.aura += 1;
          await paceDeepgramTts(deepgram.url, {
            session,
            times: 1,
            ...(random() < 0.5 ? { firstByteMs: 600_000 } : { warning: "Text too long" }),
          });
        };
        await Promise.all([call.run(endAt), aura ? auraFault() : undefined]);
      });
      const progress = setInterval(() => {
        const answered = calls.reduce((n, c) => n + c.figures.turnsAnswered, 0);
        log(
          `${Math.round((Date.now() - startedAt) / 1000)} s: ${answered} turns answered, workerd ${JSON.stringify(readRss())} MB`,
        );
      }, 30_000);
      const settled = await Promise.allSettled(runs);
      clearInterval(progress);
      for (const s of settled)
        if (s.status === "rejected") count(`call_failed:${String(s.reason).slice(0, 80)}`);
      const rssEnd = readRss();
      const heapEnd = await readHeap();
      for (const call of roundCalls) call.close();
      // The sessions' sockets gone (their objects may stay in memory until evicted): what is left.
      await sleep(IDLE_MS);
      const rssIdle = readRss();
      const lastRound = round === ROUNDS - 1;
      const heapIdle = await readHeap(lastRound ? args["heap-snapshot"] : undefined);
      rounds.push({
        rss_end: rssEnd,
        rss_idle: rssIdle,
        ...(heapEnd === undefined ? {} : { heap_end: heapEnd }),
        ...(heapIdle === undefined ? {} : { heap_idle: heapIdle }),
      });
      log(`round ${round + 1} of ${ROUNDS}: ${JSON.stringify(rounds.at(-1))}`);
    }
  } finally {
    clearInterval(sampler);
  }
  await app.stop();
  await anthropic.close();
  await deepgram.close();

  const last = rounds.at(-1);
  const sum = (f: (c: CallFigures) => number) => calls.reduce((n, c) => n + f(c.figures), 0);
  const words = calls.map((c) => wordDiff(c.figures.expectedWords, c.figures.heardWords));
  const figures = {
    conditions: {
      calls: CALLS,
      minutes: RUN_MS / 60_000,
      rounds: ROUNDS,
      frame_ms: SEND_MS,
      hung_after_ms: HUNG_AFTER_MS,
      seed: Number(args.seed),
      runtime:
        "npm start (wrangler dev, X_LOCAL_OBSERVABILITY=false) over the fake Deepgram and Anthropic",
      faults_injected: { ...faults, claude: "per turn: 4% 429, 4% 529, 2% stall 20 s" },
    },
    turns_spoken: sum((c) => c.turnsSpoken),
    turns_answered: sum((c) => c.turnsAnswered),
    apologies: sum((c) => c.apologies),
    turns_cut_by_reconnect: sum((c) => c.cutByReconnect),
    words_spoken: sum((c) => c.expectedWords.length),
    words_lost: words.reduce((n, w) => n + w.lost, 0),
    words_duplicated: words.reduce((n, w) => n + w.duplicated, 0),
    hung_turns: sum((c) => c.hung.length),
    hung: calls.flatMap((c) => c.figures.hung).slice(0, 20),
    workerd_rss_mb: {
      start: rssStart,
      end: last?.rss_end,
      peak: rssPeak,
      idle_after: last?.rss_idle,
      by_minute: rssByMinute,
    },
    /** The isolate's heap in use after a full GC, at start (`--heap`); each round's is in `rounds`. */
    ...(heapStart === undefined ? {} : { js_heap_after_gc_mb_start: heapStart }),
    idle_after_s: IDLE_MS / 1000,
    rounds,
    events_by_kind: Object.fromEntries([...counts].sort()),
  };
  console.log(JSON.stringify(figures, null, args.json ? undefined : 2));
  process.exitCode = figures.words_lost || figures.hung_turns ? 1 : 0;
}

await main();
