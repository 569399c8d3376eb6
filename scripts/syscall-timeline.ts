/**
 * A spoken turn of the app's workerd, system call by system call: when the STT's final transcript
 * came in, when Claude's request went out, when its stream came back, when the text left for
 * Aura, when Aura's audio came in and when the page's first frame left. The kernel's clock is
 * the one clock, and nothing in the Worker marks it, so it sees what the DevTools sampler misses:
 * the waits between the isolate's steps, and the wake-ups workerd's threads give each other (an
 * 8-byte `write` to an eventfd; this workerd makes its outbound HTTP with hyper on a tokio loop).
 *
 * Record a one-call run (`npm run bench -- --calls 1`, 100 ms caller frames, the bench's default).
 * The bench starts a fresh app for each run: once its two workerds (wrangler's proxy and the app)
 * are up, trace both until the run ends, then read the trace:
 *
 *   perf trace -p "$(pgrep -d, -x workerd)" -e fsync,sendto,recvfrom,write,pwrite64 -o TRACE
 *   node scripts/syscall-timeline.ts TRACE [PID] [MIN_REQUEST_BYTES]
 *
 * The sockets are told apart by what goes through them: the caller's audio arrives in frames of
 * 3 200 bytes of PCM and leaves for Deepgram as the same, Aura gets a 22-byte `Flush` after each
 * text, and Claude's request is the first large send on any other socket (19 KB for the app, sent 8 KB at a
 * time; 4 096 bytes at least by default, so the database's queries are not taken for it; pass a smaller MIN_REQUEST_BYTES for the floor relay, whose request is a few hundred bytes).
 * The process is the one that writes storage (`pwrite64`) unless PID is given. perf trace slows
 * every system call, so read the stages against each other and against the floor's, not as
 * latencies.
 */
import { readFileSync } from "node:fs";
import { summary } from "./percentiles.ts";

export interface Syscall {
  /** perf trace's clock, ms. */
  at: number;
  pid: string;
  name: string;
  fd: number;
  /** What it returned: bytes sent, received or written. */
  bytes: number;
}

/** The stages of one turn, ms, and what happened inside them. */
export interface TurnStages {
  /** The STT's last message in → Claude's request out. */
  finalToRequest: number;
  /** Request out → the first of its stream in (the fake's time, and the trip). */
  requestToStream: number;
  /** Stream in → the text's first message out to Aura. */
  streamToTts: number;
  /** Text out → Aura's first audio in. */
  ttsToAudio: number;
  /** Audio in → the page's first send after it. */
  audioToPage: number;
  /** Wake-ups of another thread (8-byte eventfd writes) between stream in and text out. */
  wakesBeforeTts: number;
  /** Sends to the page between stream in and text out (the reply's text, shown as it comes). */
  pageSendsBeforeTts: number;
  requestBytes: number;
}

const LINE =
  /^\s*([\d.]+) \(\s*[\d.]* ms\): \S+\/(\d+) (\w+)\(fd: (\d+),.*?(?:len|size|count): \d+.*\)\s+=\s+(\d+)\s*$/;

/** The calls of a `perf trace` output that name a descriptor and a size (others are skipped). */
export function parseTrace(text: string): Syscall[] {
  const calls: Syscall[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    calls.push({
      at: Number(m[1]),
      pid: m[2] as string,
      name: m[3] as string,
      fd: Number(m[4]),
      bytes: Number(m[5]),
    });
  }
  return calls;
}

/** PCM of a 100 ms caller frame, and its size on a socket with a WebSocket header around it. */
const FRAME_PCM = 3_200;
const FLUSH_BYTES = 22;

/** The value that comes most often (the first to reach that count on a tie). */
function mostFrequent<T>(values: T[]): T | undefined {
  const counts = new Map<T, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/** The descriptor most of the calls that pass `test` went through. */
function busiestFd(calls: Syscall[], test: (call: Syscall) => boolean): number | undefined {
  return mostFrequent(calls.filter(test).map((call) => call.fd));
}

const isFrame = (bytes: number) => bytes >= FRAME_PCM && bytes <= FRAME_PCM + 16;

/** Every turn found in the trace of the app's process (`pid`, else the one that writes storage). */
export function turnStages(all: Syscall[], pid?: string, minRequestBytes = 4_096): TurnStages[] {
  const app =
    pid ??
    mostFrequent(all.filter((c) => c.name === "pwrite64").map((c) => c.pid)) ??
    mostFrequent(all.map((c) => c.pid));
  const calls = all.filter((c) => c.pid === app);
  const stt = busiestFd(calls, (c) => c.name === "sendto" && isFrame(c.bytes));
  const page = busiestFd(calls, (c) => c.name === "recvfrom" && isFrame(c.bytes));
  const aura = busiestFd(calls, (c) => c.name === "sendto" && c.bytes === FLUSH_BYTES);
  if (stt === undefined || page === undefined || aura === undefined) return [];
  const known = new Set([stt, page, aura]);
  const turns: TurnStages[] = [];
  const lastSend = new Map<number, number>();
  for (let i = 0; i < calls.length; i++) {
    const request = calls[i] as Syscall;
    if (request.name !== "sendto") continue;
    const continues = (lastSend.get(request.fd) ?? -1) >= i - 3;
    lastSend.set(request.fd, i);
    if (known.has(request.fd) || continues || request.bytes < minRequestBytes) continue;
    const final = findLast(calls, i, (c) => c.name === "recvfrom" && c.fd === stt);
    const stream = findFrom(calls, i, (c) => c.name === "recvfrom" && c.fd === request.fd);
    if (!final || !stream) continue;
    const text = findFrom(calls, stream.index, (c) => c.name === "sendto" && c.fd === aura);
    if (!text) continue;
    const audio = findFrom(calls, text.index, (c) => c.name === "recvfrom" && c.fd === aura);
    if (!audio) continue;
    const out = findFrom(calls, audio.index, (c) => c.name === "sendto" && c.fd === page);
    if (!out) continue;
    const between = calls.slice(stream.index + 1, text.index);
    turns.push({
      finalToRequest: request.at - final.call.at,
      requestToStream: stream.call.at - request.at,
      streamToTts: text.call.at - stream.call.at,
      ttsToAudio: audio.call.at - text.call.at,
      audioToPage: out.call.at - audio.call.at,
      wakesBeforeTts: between.filter((c) => c.name === "write" && c.bytes === 8).length,
      pageSendsBeforeTts: between.filter((c) => c.name === "sendto" && c.fd === page).length,
      requestBytes: request.bytes,
    });
  }
  return turns;
}

function findFrom(calls: Syscall[], from: number, test: (call: Syscall) => boolean) {
  for (let i = from + 1; i < calls.length; i++) {
    const call = calls[i] as Syscall;
    if (test(call)) return { call, index: i };
  }
  return undefined;
}

function findLast(calls: Syscall[], before: number, test: (call: Syscall) => boolean) {
  for (let i = before - 1; i >= 0; i--) {
    const call = calls[i] as Syscall;
    if (test(call)) return { call, index: i };
  }
  return undefined;
}

/** The median of each stage over the turns, as the benchmarks report it (nearest rank, 0.1 ms). */
export function medianStages(turns: TurnStages[]): TurnStages | undefined {
  const first = turns[0];
  if (!first) return undefined;
  const keys = Object.keys(first) as (keyof TurnStages)[];
  return Object.fromEntries(
    keys.map((key) => [key, summary(turns.map((turn) => turn[key])).p50]),
  ) as unknown as TurnStages;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, pid, minBytes] = process.argv.slice(2);
  if (!file) {
    console.error("usage: node scripts/syscall-timeline.ts TRACE [PID] [MIN_REQUEST_BYTES]");
    process.exit(2);
  }
  const turns = turnStages(
    parseTrace(readFileSync(file, "utf8")),
    pid || undefined,
    minBytes ? Number(minBytes) : undefined,
  );
  const round = (v: number) => Math.round(v * 100) / 100;
  for (const turn of turns) {
    console.log(
      Object.entries(turn)
        .map(([k, v]) => `${k} ${round(v)}`)
        .join("  "),
    );
  }
  const median = medianStages(turns);
  console.log(
    median
      ? `median of ${turns.length} turns: ${Object.entries(median)
          .map(([k, v]) => `${k} ${round(v)}`)
          .join("  ")}`
      : "no turn found (a one-call run of 100 ms frames, traced as the header says?)",
  );
}
