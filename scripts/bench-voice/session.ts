/** `npm run bench`: one session of N simulated calls on a running app, all turns timed. */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { type Step, scriptClaude } from "../../test/fakes/anthropic/client.ts";
import {
  appendDeepgramUtterances,
  paceDeepgramTts,
  scriptDeepgram,
} from "../../test/fakes/deepgram/client.ts";
import type { AppProcesses } from "../app-cpu.ts";
import type { CpuProfile } from "../cpu-profile.ts";
import { type NativeRecording, startNativeProfile } from "../native-profile.ts";
import { AudioTicker } from "./audio-ticker.ts";
import { type CpuSpan, cpuSpan, type Snapshot, snapshot } from "./cpu.ts";
import { type Profiler, startProfile } from "./profile.ts";
import {
  args,
  type Condition,
  callTag,
  FRAME_MS,
  GAP_MS,
  idleMsFor,
  LISTEN,
  LISTEN_MS_PER_CHAR,
  PINS,
  PLAYOUT_DELAY_MS,
  phaseOf,
  replyText,
  round,
  SCRIPT_MARGIN_MS,
  SETTLE_MS,
  UTTERANCE_MS,
  UTTERANCE_WORDS,
  utteranceText,
  WORD_MS,
} from "./settings.ts";
import type { CallerPage, OpenPage } from "./simulated-call.ts";

export interface SessionResult {
  calls: CallerPage[];
  /** Each call's audio clock, by the call's index. */
  tickers: AudioTicker[];
  /** Workerd CPU while every call streamed with no turn, and over the turns. */
  idle?: CpuSpan;
  turnsCpu?: CpuSpan;
  eventLoopDelay: { p99: number; max: number };
  /** When the bench began closing the calls: a provider socket lost before then was lost mid-call. */
  endedAt?: number;
  profile?: CpuProfile;
  error?: string;
}

export async function runSession(
  /** Where the pages connect: the app's URL, or (--direct) its workerd's own entry socket. */
  pageUrl: string,
  openPage: OpenPage,
  fakes: { anthropic: string; deepgram: string },
  condition: Condition,
  n: number,
  turns: number,
  runId: string,
  measure:
    | {
        processes: AppProcesses;
        profile: boolean;
        /** perf's recording of the app's workerd over the turns goes to this file (--perf). */
        nativeProfileTo?: string | undefined;
        port: number;
      }
    | undefined,
): Promise<SessionResult> {
  const calls = Array.from({ length: n }, (_, i) => openPage(pageUrl, i, callTag(runId, i)));
  // The idle window (measured runs only), then the first utterance.
  const idleFrom = measure ? SETTLE_MS : 0;
  const idleTo = measure ? SETTLE_MS + idleMsFor(n) : 0;
  const firstEnd = Math.max(idleTo, SETTLE_MS) + UTTERANCE_MS;
  const step = (call: CallerPage): Step => ({
    kind: "text",
    text: replyText(call.index),
    latency: { firstTokenMs: condition.claudeFirstTokenMs, chunkMs: condition.tokenMs },
  });
  // Sign-ins go ten at a time: they all come from one address, whose PIN throttle counts
  // attempts in flight (a correct PIN gives its attempt back only once checked).
  const setUp = async (call: CallerPage) => {
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
    if (condition.auraFirstByteMs > 0 || LISTEN)
      await paceDeepgramTts(fakes.deepgram, {
        session: sessionId,
        firstByteMs: condition.auraFirstByteMs,
        ...(LISTEN ? { msPerChar: LISTEN_MS_PER_CHAR } : {}),
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
  let recording: NativeRecording | undefined;
  // The CPU windows follow call 0's clock (phase 0); the others are less than 100 ms behind.
  const tickers = calls.map(
    (call) =>
      new AudioTicker(
        (audioMs) => {
          call.tick(audioMs);
          if (!measure || call.index !== 0) return;
          if (audioMs === idleFrom) snapshots.idleFrom = snapshot(measure.processes);
          if (audioMs === idleTo) {
            if (measure.profile)
              profiling = startProfile(measure.port, measure.processes.inspectorPort);
            if (measure.nativeProfileTo)
              recording = startNativeProfile(measure.processes.workerd, measure.nativeProfileTo);
            snapshots.idleTo = snapshot(measure.processes);
          }
        },
        phaseOf(call.index, n),
      ),
  );
  const result: SessionResult = { calls, tickers, eventLoopDelay: { p99: 0, max: 0 } };

  // The next turn: GAP_MS after the reply's last frame, UTTERANCE_MS long, on a frame boundary.
  const placeNext = (call: CallerPage, doneTurn: number): number => {
    const turn = call.turns[doneTurn];
    const now = performance.now();
    const receivedAt = turn?.lastFrameAt ?? now;
    // --listen: the reply plays from its first frame (after the page's jitter buffer) to its end.
    const heardAt =
      LISTEN && turn?.replyAt !== undefined
        ? Math.max(receivedAt, turn.replyAt + PLAYOUT_DELAY_MS + (turn.replyAudioMs ?? 0))
        : receivedAt;
    const ticker = tickers[call.index] as AudioTicker;
    // Where the caller's audio will stand then (it streams in real time meanwhile).
    const heardPosition = ticker.positionAt(Math.min(heardAt, now)) + Math.max(0, heardAt - now);
    let end = Math.ceil((heardPosition + GAP_MS + UTTERANCE_MS) / FRAME_MS) * FRAME_MS;
    const firstWordSpan = (UTTERANCE_WORDS - 1) * WORD_MS;
    const earliest =
      Math.ceil((ticker.audioMs + SCRIPT_MARGIN_MS + firstWordSpan) / FRAME_MS) * FRAME_MS;
    const late = end < earliest;
    if (late) end = earliest;
    call.turns.push({ endAudioMs: end, late, frames: 0 });
    return end;
  };
  const script = (call: CallerPage, turn: number, end: number) =>
    appendDeepgramUtterances(fakes.deepgram, call.sessionId, [
      { text: utteranceText(call.tag, turn), afterAudioMs: end, eager: condition.flux },
    ]).catch((error: unknown) => fail(error as Error));
  /** With --lockstep every call's turn k waits for the last call's reply k-1, then all end together. */
  const waiting: Map<number, { call: CallerPage; end: number }[]> = new Map();
  for (const call of calls) {
    call.onReplyDone = (c, done) => {
      const next = done + 1;
      if (next >= turns) return;
      const end = placeNext(c, done);
      if (!args.lockstep) return void script(c, next, end);
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
  for (const ticker of tickers) ticker.start();
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
    for (const ticker of tickers) ticker.stop();
    for (const call of calls) call.close();
    if (profiling) {
      const running = await profiling.catch(() => undefined);
      result.profile = await running?.stop();
    }
    await recording?.stop().catch((error: unknown) => {
      result.error ??= `perf: ${(error as Error).message}`;
    });
  }
  result.eventLoopDelay = { p99: round(delay.percentile(99) / 1e6), max: round(delay.max / 1e6) };
  return result;
}
