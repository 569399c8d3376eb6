/**
 * `npm run bench`: spoken turns end to end, many calls at once, through `wrangler dev` with the
 * provider fakes. Each simulated call signs in, streams caller audio in real time (100 ms frames)
 * and speaks a turn every three seconds (calls spread evenly over that cycle, not in lockstep); the
 * fake Deepgram "recognises" it when the audio reaches the scripted point. Measured per turn:
 * - e2e: the caller's last word left the client → the reply's first audio frame arrived back
 *   (client clock: includes both trips over loopback);
 * - overhead: the server's own added time on that path (its `serverAddedMs`, which leaves out
 *   the time waiting on Deepgram, Claude and Aura — voice/turn-metrics.ts).
 * Three conditions: providers answering instantly (our overhead alone); at realistic published
 * latencies with Nova (end of turn ~260 ms, Claude first token ~400 ms, Aura first byte
 * ~150 ms); and the same with Flux, whose EagerEndOfTurn (assumed 100 ms after the last word)
 * starts the reply before EndOfTurn. Each at 1, 10 and 50 concurrent calls.
 *
 *   npm run bench                      the table
 *   npm run bench -- --json            one JSON object: runs.<condition>.c<N>.e2e_ms.p95 …
 *   npm run bench -- --turns 3 --concurrency 1,10 --conditions instant
 */
import { parseArgs } from "node:util";
import { AudioFrameFlag, decodeAudioFrame, encodeAudioFrame } from "../protocol/audio-frame.ts";
import { parseServerMessage, type ServerMessageOf } from "../protocol/messages.ts";
import { type Step, scriptClaude } from "../test/fakes/anthropic/client.ts";
import { startFakeAnthropic } from "../test/fakes/anthropic/server.ts";
import { paceDeepgramTts, scriptDeepgram } from "../test/fakes/deepgram/client.ts";
import { startFakeDeepgram } from "../test/fakes/deepgram/server.ts";
import { type AppProcess, startAppProcess } from "./app-process.ts";
import { type Summary, summary } from "./percentiles.ts";

const { values: args } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    turns: { type: "string", default: "5" },
    concurrency: { type: "string", default: "1,10,50" },
    conditions: { type: "string", default: "instant,realistic,realistic_flux" },
  },
});
const TURNS = Number(args.turns);
const CONCURRENCY = args.concurrency.split(",").map(Number);
const FRAME_MS = 100;
const FRAME_BYTES = FRAME_MS * 32; // 16 kHz PCM16
const FIRST_TURN_AT_MS = 1_000;
/** A turn every 3 s: time to answer and play the reply before the caller speaks again. */
const TURN_EVERY_MS = 3_000;
const PINS = ["1234", "5678", "2468"]; // the seeded demo callers

interface Condition {
  name: "instant" | "realistic" | "realistic_flux";
  flux: boolean;
  endOfTurnMs: number;
  eagerMs: number;
  claudeFirstTokenMs: number;
  auraFirstByteMs: number;
  /** Marks this condition's replies, so the fake Aura paces only them. */
  marker: string;
}

const CONDITIONS: Condition[] = [
  {
    name: "instant",
    flux: false,
    endOfTurnMs: 0,
    eagerMs: 0,
    claudeFirstTokenMs: 0,
    auraFirstByteMs: 0,
    marker: "Instantly",
  },
  {
    name: "realistic",
    flux: false,
    endOfTurnMs: 260,
    eagerMs: 0,
    claudeFirstTokenMs: 400,
    auraFirstByteMs: 150,
    marker: "Realistically",
  },
  {
    name: "realistic_flux",
    flux: true,
    endOfTurnMs: 260,
    eagerMs: 100,
    claudeFirstTokenMs: 400,
    auraFirstByteMs: 150,
    marker: "Eagerly",
  },
];

/** One condition at one concurrency, as printed and in the JSON. */
interface RunFigures {
  calls: number;
  e2e_ms: Summary;
  overhead_ms: Summary;
  server_e2e_ms: Summary;
  end_of_turn_ms: Summary;
  llm_ttft_ms: Summary;
  tts_ttfb_ms: Summary;
  interrupted_replies: number;
}

interface TurnResult {
  e2eMs: number;
  /** The server's own figures for the turn, once its voice_metrics arrived. */
  server?: ServerMessageOf<"voice_metrics">;
}

/** One caller: signs in, streams audio, speaks TURNS turns, measures each reply. */
class SimulatedCall {
  readonly #ws: WebSocket;
  readonly #results: TurnResult[] = [];
  /** When the frame ending at each audio position (ms) was sent. */
  readonly #sentAt = new Map<number, number>();
  #audioMs = 0;
  #seq = 0;
  #replies = 0;
  #replyArrivedAt = 0;
  /** Replies the caller spoke over: each means a turn's answer was still playing. */
  interruptions = 0;
  #metrics: ServerMessageOf<"voice_metrics">[] = [];
  #onSignedIn: ((sessionId: string) => void) | undefined;
  #onDone: (() => void) | undefined;
  #failed: ((error: Error) => void) | undefined;

  /** Callers do not speak in lockstep: each call's turns are shifted by this much. */
  readonly offsetMs: number;

  constructor(url: string, offsetMs: number) {
    this.offsetMs = offsetMs;
    this.#ws = new WebSocket(url);
    this.#ws.binaryType = "arraybuffer";
    this.#ws.addEventListener("message", (event) => this.#onMessage(event.data));
    this.#ws.addEventListener("close", () => this.#failed?.(new Error("socket closed")));
  }

  async start(pin: string): Promise<string> {
    // The socket may have opened already, while earlier calls were signing in.
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
    return signedIn;
  }

  /** Resolves when every turn was answered. */
  finished(): Promise<TurnResult[]> {
    return new Promise((resolve, reject) => {
      this.#failed = reject;
      this.#onDone = () => resolve(this.#results);
      if (this.#complete) this.#onDone();
    });
  }

  /** One more frame of (silent) caller audio. */
  tick() {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#ws.send(encodeAudioFrame(1, this.#seq, new Uint8Array(FRAME_BYTES)));
    this.#audioMs += FRAME_MS;
    this.#sentAt.set(this.#audioMs, performance.now());
  }

  close() {
    this.#failed = undefined;
    this.#ws.close();
  }

  /** Every turn answered, and the server's figures for each arrived (they follow the audio). */
  get #complete(): boolean {
    return this.#replies >= TURNS && this.#metrics.length >= TURNS;
  }

  /** For a run that does not finish: how far this call got and what it heard last. */
  describe(): string {
    return `${this.#replies}/${TURNS} replies, ${this.#frames} frames; last: ${this.#recent.join(", ")}`;
  }

  readonly #recent: string[] = [];
  #frames = 0;

  #onMessage(data: unknown) {
    if (data instanceof ArrayBuffer) {
      const frame = decodeAudioFrame(data);
      this.#frames += 1;
      if (!frame.ok) this.#recent.push(`bad frame ${frame.message}`);
      if (!frame.ok || !(frame.frame.flags & AudioFrameFlag.ReplyStart)) return;
      const turn = this.#replies;
      this.#replies += 1;
      this.#replyArrivedAt = performance.now();
      const spokeUntil = this.offsetMs + FIRST_TURN_AT_MS + turn * TURN_EVERY_MS;
      const sentAt = this.#sentAt.get(spokeUntil);
      if (sentAt !== undefined) {
        this.#results.push({ e2eMs: performance.now() - sentAt });
      }
      if (this.#complete) this.#onDone?.();
      return;
    }
    const parsed = parseServerMessage(String(data));
    if (!parsed.ok) return;
    const message = parsed.message;
    this.#recent.push(
      message.type === "transcript" ? `transcript(${message.entry.text.slice(-30)})` : message.type,
    );
    if (this.#recent.length > 12) this.#recent.shift();
    if (message.type === "signed_in") this.#onSignedIn?.(message.sessionId);
    if (message.type === "playback_clear") {
      // Spoken over (the reply was late and still playing): answer as the page does.
      this.interruptions += 1;
      const playedMs = Math.round(performance.now() - this.#replyArrivedAt);
      this.#ws.send(JSON.stringify({ type: "playback_stopped", turnId: message.turnId, playedMs }));
    }
    if (message.type === "error" || message.type === "session_ended")
      this.#failed?.(new Error(JSON.stringify(message)));
    if (message.type === "voice_metrics" && message.endToEndPlayedMs === null) {
      this.#metrics.push(message);
      const result = this.#results[this.#metrics.length - 1];
      if (result) result.server = message;
      if (this.#complete) this.#onDone?.();
    }
  }
}

/** Barge-ins in the last run (replies still playing when the caller spoke again). */
const interruptions = { count: 0 };

async function runCalls(
  app: AppProcess,
  fakes: { anthropic: string; deepgram: string },
  condition: Condition,
  calls: number,
  runId: string,
): Promise<TurnResult[]> {
  const wsUrl = `${app.url.replace("http", "ws")}ws`;
  // Turns spread evenly over the two-second cycle, on frame boundaries.
  const offset = (i: number) => Math.floor((i * TURN_EVERY_MS) / calls / FRAME_MS) * FRAME_MS;
  const simulated = Array.from({ length: calls }, (_, i) => new SimulatedCall(wsUrl, offset(i)));
  // Sign-ins go ten at a time: they all come from one address, whose PIN throttle counts
  // attempts in flight (a correct PIN gives its attempt back only once checked).
  const setUp = async (call: SimulatedCall, i: number) => {
    const sessionId = await call.start(PINS[i % PINS.length] ?? "1234");
    // Bracketed: "call 1" must not match inside "call 10" (the fake matches substrings).
    const tag = `[bench ${runId} call ${i}]`;
    await scriptDeepgram(
      fakes.deepgram,
      sessionId,
      Array.from({ length: TURNS }, (_, k) => ({
        text: `${tag} turn ${k} what is next on my list`,
        afterAudioMs: call.offsetMs + FIRST_TURN_AT_MS + k * TURN_EVERY_MS,
        eager: condition.flux,
      })),
      { endOfTurnDelayMs: condition.endOfTurnMs, eagerDelayMs: condition.eagerMs },
    );
    const step: Step = {
      kind: "text",
      text: `${condition.marker}, it's done. Anything else?`,
      latency: { firstTokenMs: condition.claudeFirstTokenMs },
    };
    await scriptClaude(fakes.anthropic, tag, Array(TURNS).fill(step));
  };
  for (let first = 0; first < calls; first += 10) {
    await Promise.all(simulated.slice(first, first + 10).map((call, j) => setUp(call, first + j)));
  }
  // One clock for every call: real-time audio, a frame per call every 100 ms.
  const ticker = setInterval(() => {
    for (const call of simulated) call.tick();
  }, FRAME_MS);
  // Every turn should be answered within a few seconds of the last one being spoken.
  const deadlineMs = FIRST_TURN_AT_MS + TURNS * TURN_EVERY_MS + 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const overdue = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const stuck = simulated
        .map((call, i) => `  call ${i}: ${call.describe()}`)
        .filter((line) => !line.includes(`${TURNS}/${TURNS}`));
      reject(
        new Error(
          `${condition.name} × ${calls}: not every turn was answered:\n${stuck.join("\n")}`,
        ),
      );
    }, deadlineMs);
  });
  try {
    const results = await Promise.race([
      Promise.all(simulated.map((call) => call.finished())),
      overdue,
    ]);
    interruptions.count = simulated.reduce((n, call) => n + call.interruptions, 0);
    return results.flat();
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
    for (const call of simulated) call.close();
  }
}

async function main() {
  const anthropic = await startFakeAnthropic();
  const deepgram = await startFakeDeepgram();
  const fakes = { anthropic: anthropic.url, deepgram: deepgram.url };
  for (const condition of CONDITIONS) {
    await paceDeepgramTts(deepgram.url, {
      match: `${condition.marker}, it's done.`,
      firstByteMs: condition.auraFirstByteMs,
    });
  }
  const env = (flux: boolean) => ({
    ANTHROPIC_API_KEY: "test-anthropic-key",
    ANTHROPIC_BASE_URL: anthropic.url,
    DEEPGRAM_API_KEY: "test-deepgram-key",
    DEEPGRAM_BASE_URL: deepgram.url,
    ...(flux ? { DEEPGRAM_STT_MODEL: "flux-general-en" } : {}),
  });
  const runs: Record<string, Record<string, RunFigures>> = {};
  const chosen = CONDITIONS.filter((c) => args.conditions.split(",").includes(c.name));
  for (const flux of [false, true]) {
    if (!chosen.some((c) => c.flux === flux)) continue;
    const app = await startAppProcess(env(flux));
    try {
      // A warm-up call: the first turn after start compiles and connects everything.
      await runCalls(app, fakes, CONDITIONS[0] as Condition, 1, `warm${flux}`);
      for (const condition of chosen.filter((c) => c.flux === flux)) {
        const byConcurrency: Record<string, RunFigures> = {};
        for (const calls of CONCURRENCY) {
          const results = await runCalls(app, fakes, condition, calls, `${condition.name}${calls}`);
          const server = (key: keyof ServerMessageOf<"voice_metrics">) =>
            summary(
              results.flatMap((r) => {
                const v = r.server?.[key];
                return typeof v === "number" ? [v] : [];
              }),
            );
          byConcurrency[`c${calls}`] = {
            calls,
            e2e_ms: summary(results.map((r) => r.e2eMs)),
            overhead_ms: server("serverAddedMs"),
            server_e2e_ms: server("endToEndMs"),
            end_of_turn_ms: server("endOfTurnDelayMs"),
            llm_ttft_ms: server("llmTtftMs"),
            tts_ttfb_ms: server("ttsTtfbMs"),
            interrupted_replies: interruptions.count,
          };
          if (!args.json)
            process.stderr.write(`[bench] ${condition.name} × ${calls} calls: done\n`);
        }
        runs[condition.name] = byConcurrency;
      }
    } finally {
      await app.stop();
    }
  }
  await anthropic.close();
  await deepgram.close();

  const figures = {
    conditions: {
      turns_per_call: TURNS,
      frame_ms: FRAME_MS,
      runtime:
        "wrangler dev (workerd) on 127.0.0.1; embedded Postgres behind Neon's HTTP protocol; fake Deepgram (Nova v1 / Flux v2 STT, Aura WebSocket TTS) and fake Anthropic on loopback, in the benchmark's own process",
      provider_latency_ms: Object.fromEntries(
        CONDITIONS.map((c) => [
          c.name,
          {
            end_of_turn: c.endOfTurnMs,
            eager_end_of_turn: c.flux ? c.eagerMs : null,
            claude_first_token: c.claudeFirstTokenMs,
            aura_first_byte: c.auraFirstByteMs,
          },
        ]),
      ),
      machine: "2 cores",
    },
    runs,
  };
  if (args.json) {
    console.log(JSON.stringify(figures));
    return;
  }
  console.log(
    `Spoken turns, ${TURNS} per call, caller audio in real time (${FRAME_MS} ms frames). ms.`,
  );
  console.log(
    "condition        calls   e2e p50   p95   p99   overhead p50   p95   p99   | server p50: e2e  EOT  LLM  TTS | cut",
  );
  for (const [name, byConcurrency] of Object.entries(runs)) {
    for (const r of Object.values(byConcurrency)) {
      const n = (v: number, w: number) => String(v).padStart(w);
      console.log(
        `${name.padEnd(16)} ${n(r.calls, 5)} ${n(r.e2e_ms.p50, 9)} ${n(r.e2e_ms.p95, 5)} ${n(r.e2e_ms.p99, 5)} ${n(r.overhead_ms.p50, 14)} ${n(r.overhead_ms.p95, 5)} ${n(r.overhead_ms.p99, 5)}   | ${n(r.server_e2e_ms.p50, 14)} ${n(r.end_of_turn_ms.p50, 4)} ${n(r.llm_ttft_ms.p50, 4)} ${n(r.tts_ttfb_ms.p50, 4)} | ${n(r.interrupted_replies, 3)}`,
      );
    }
  }
}

await main();
