/**
 * `npm run bench`: its options (scripts/bench-voice.ts lists them), the callers' timing, the
 * provider conditions and the reply every turn gets.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Placement } from "./distance.ts";
import { YARDSTICKS, type Yardstick } from "./yardstick.ts";

export const { values: args } = parseArgs({
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
    /** Runs of every row, each on a fresh app; the row reports their median (repeats.ts). */
    repeat: { type: "string", default: "1" },
    conditions: { type: "string", default: "instant,realistic,paced" },
    /**
     * The streaming window with no turn, whose rate is taken out of the turns' CPU. At ten calls
     * that share is about half the turns' CPU, so the rate's error weighs on CPU per turn twice
     * over: over 5 s, one sitting's ten-call runs gave 9.5 / 11.9 / 16.1 ms a turn for the same
     * code, over 20 s 10.0 / 10.1 / 10.7 (docs/benchmarks.md, twenty-first session).
     */
    "idle-seconds": { type: "string", default: "20" },
    /**
     * Every caller's next turn waits for the LAST reply of the turn, so every turn of a run is a
     * burst — harder than issue 11's pacing (each caller 400 ms after its own reply), the default.
     */
    lockstep: { type: "boolean", default: false },
    /**
     * The caller listens: each reply is about 4 s of audio (LISTEN_MS_PER_CHAR), and the next
     * utterance starts GAP_MS after the reply would have finished playing, not after its audio
     * arrived — a call's rhythm, for what streaming costs over a whole call.
     */
    listen: { type: "boolean", default: false },
    /**
     * Every caller's frames in one instant (one tick for all), so a burst's turns end together to
     * the millisecond — harder than issue 11's "stop speaking within 100 ms", where each caller's
     * frames keep their own phase in the 100 ms frame (the default).
     */
    "same-phase": { type: "boolean", default: false },
    /**
     * The pages connect to the app's workerd itself, not through wrangler dev's proxy workerd
     * (a relay production does not have), to see what that hop adds.
     */
    direct: { type: "boolean", default: false },
    /**
     * The caller this far (one-way ms) from the providers; `--placement` says where the session
     * object is: near the providers (the pages' connections late) or near the caller (the app's
     * connections to the fakes late). distance.ts.
     */
    distance: { type: "string", default: "0" },
    "frame-ms": { type: "string", default: "100" },
    placement: { type: "string", default: "providers" },
    /** The default pacing, by its former option name (kept so older commands still run). */
    staggered: { type: "boolean", default: false },
    /** Aura over its WebSocket (the app's default) or streaming HTTP. */
    tts: { type: "string", default: "websocket" },
    "app-dir": { type: "string" },
    /**
     * Also runs every row on the app of this checkout (a worktree of the code before a change),
     * or on a yardstick (`floor`, `library`), back to back with the current one in one sitting,
     * and prints the two side by side.
     */
    compare: { type: "string" },
    /** Appends the app's output (its log lines) to this file. */
    "app-log": { type: "string" },
    profile: { type: "string" },
    /** Linux perf's native profile of the app's workerd in one extra run (scripts/native-profile.ts). */
    perf: { type: "string" },
    /** Writes each run's events (the one clock, and its offsets to CLOCK_MONOTONIC and the wall clock) to DIR. */
    timeline: { type: "string" },
    "profile-run": { type: "string", default: "instant:10" },
  },
});

export const TURNS = Number(args.turns);
export const DISTANCE_MS = Number(args.distance);
if (!Number.isInteger(DISTANCE_MS) || DISTANCE_MS < 0)
  throw new Error(`--distance: whole milliseconds, one way, not "${args.distance}"`);
if (args.placement !== "providers" && args.placement !== "caller")
  throw new Error(`--placement: "providers" or "caller", not "${args.placement}"`);
export const PLACEMENT: Placement = args.placement;
export const REPEAT = Math.max(1, Number(args.repeat) || 1);
/** Issue 11's burst: the callers stop speaking within this window, whatever the frame size. */
export const BURST_WINDOW_MS = 100;
/** Caller `index` of `calls`: how far into the burst window its audio clock starts. */
export const phaseOf = (index: number, calls: number) =>
  args["same-phase"] ? 0 : (index * BURST_WINDOW_MS) / calls;
/** Turns measured per run at least: a percentile of a single call's five turns moved by ±3 ms. */
export const MIN_TURNS_PER_RUN = 20;
/** Each call's turns in a run of `calls` calls: `--turns`, more when there are few calls. */
export const turnsPerCall = (calls: number) =>
  Math.max(TURNS, Math.ceil(MIN_TURNS_PER_RUN / calls));
export const INSTANT_CALLS = (args.calls ?? args.concurrency ?? "1,10,50").split(",").map(Number);
export const PROVIDER_CALLS = args["provider-calls"].split(",").map(Number);
/**
 * `--app-dir floor|library` / `--compare floor|library`: a yardstick (yardstick.ts) in place of a
 * checkout's app — the floor relay (floor/relay.ts: a spoken turn with nothing on top, on the same
 * runtime and path) or Cloudflare's voice library (library/agent.ts, its own page protocol).
 */
/** The yardstick `appDir` names, if it names one. */
export const yardstickOf = (appDir: string | undefined): Yardstick | undefined =>
  (YARDSTICKS as readonly (string | undefined)[]).includes(appDir)
    ? (appDir as Yardstick)
    : undefined;
const appArg = (value: string | undefined): string | undefined =>
  value === undefined ? undefined : (yardstickOf(value) ?? resolve(value));
export const APP_DIR = appArg(args["app-dir"]);
export const COMPARE_DIR = appArg(args.compare);
export const TTS_TRANSPORT = args.tts === "http" ? "http" : "websocket";
/** How the app under test reaches Aura: the library yardstick streams it over HTTP (library/agent.ts). */
export const ttsTransportOf = (appDir: string | undefined): "http" | "websocket" =>
  yardstickOf(appDir) === "library" ? "http" : TTS_TRANSPORT;

/**
 * The caller's frames: 100 ms, as issue 11 measures; `--frame-ms 20` sends the caller page's own
 * size (web/caller/audio/mic-framer.ts), five times the messages for the same audio; `--frame-ms
 * page` sends what the page sends: 20 ms frames, joined up to 100 ms once the caller has been
 * quiet a while (web/caller/audio/quiet-frames.ts; the utterances count as the caller's voice).
 */
export const PAGE_FRAMES = args["frame-ms"] === "page";
export const FRAME_MS = PAGE_FRAMES ? 20 : Number(args["frame-ms"]);
if (![20, 50, 100].includes(FRAME_MS))
  throw new Error(
    `--frame-ms: 20, 50, 100 (whole frames to an utterance) or page, not ${args["frame-ms"]}`,
  );
export const FRAME_BYTES = FRAME_MS * 32; // 16 kHz PCM16
/**
 * An utterance: the caller speaks for 1.5 s. The fake Deepgram reports nothing of it before its
 * end (speech start, interim and final come together), so its words only have to be heard: three
 * words, which the fake places a quarter second apart before the end. A next turn is scripted
 * when the reply's last frame is known (assistant_done follows the reply's playing time), later
 * than 400 ms after it: the words must still be ahead of the audio then, or they are not heard.
 */
export const UTTERANCE_MS = 1_500;
export const UTTERANCE_WORDS = 3;
/** The fake's spacing of an utterance's words (listen.ts, timedWords). */
export const WORD_MS = 250;
/** A reply counts as all received once no frame of it came for this long after assistant_done. */
export const QUIET_MS = 100;
/** The caller starts speaking this long after the reply's audio was all received (--listen: played). */
export const GAP_MS = 400;
export const LISTEN = args.listen;
/** --listen: the fake Aura's audio per character of a reply (about 4 s for the bench's reply). */
export const LISTEN_MS_PER_CHAR = 50;
/** Streaming before the idle window is measured: every STT socket open and settled. */
export const SETTLE_MS = 1_500;
export const IDLE_MS = Number(args["idle-seconds"]) * 1000;
/**
 * …and at least this many call-seconds: /proc counts in 10 ms ticks, and one call streams for a
 * few ms of CPU a second, so a single call streams longer (20 s) for a rate worth subtracting.
 */
export const MIN_IDLE_CALL_SECONDS = 20;
export const idleMsFor = (calls: number) =>
  Math.max(IDLE_MS, Math.ceil((MIN_IDLE_CALL_SECONDS * 1000) / calls / FRAME_MS) * FRAME_MS);
/** The first word of an utterance scripted later must still be ahead of the audio by this much. */
export const SCRIPT_MARGIN_MS = 200;
/** The page's jitter buffer: what it reports as `playoutDelayMs` once a reply starts playing. */
export const PLAYOUT_DELAY_MS = 60;
/** Warm-up calls and turns on every fresh app (not counted): JIT, connections, caches. */
export const WARMUP_CALLS = 2;
export const WARMUP_TURNS = 3;
export const PINS = ["1234", "5678", "2468"]; // the seeded demo callers
/** Other processes above this share of the machine make a run's CPU figures doubtful. */
export const NOISY_OTHERS_PCT = 25;
/** Before a run's calls start, other processes should take at most this much of the machine… */
export const QUIET_OTHERS_PCT = 15;
/** …waited for this long at most (the development machine is shared). */
export const QUIET_WAIT_MS = 20_000;

export interface Condition {
  name: "instant" | "realistic" | "paced" | "realistic_flux";
  flux: boolean;
  endOfTurnMs: number;
  eagerMs: number;
  claudeFirstTokenMs: number;
  /** Before each text_delta (one per word). */
  tokenMs: number;
  auraFirstByteMs: number;
}

export const CONDITIONS: Condition[] = [
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
export const replyText = (call: number) =>
  `Call ${call}, your next task is the dentist, tomorrow at 3:30 pm. Anything else?`;
export { callTag, turnWords, utteranceText } from "./tags.ts";

export const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
