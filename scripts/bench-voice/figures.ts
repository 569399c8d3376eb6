/**
 * `npm run bench`: a run's figures from what the fakes and the pages saw, on the one clock — each
 * turn's stages (final → model request → first token → TTS request → first audio → the page),
 * their percentiles, and the CPU per turn and per call-second of streamed audio.
 */

import type { DeepgramEvent } from "../../test/fakes/deepgram/server.ts";
import { type AppProcesses, cpuTickMs } from "../app-cpu.ts";
import { type Summary, summary } from "../percentiles.ts";
import type { Observed } from "./observed.ts";
import type { RepeatSpread } from "./repeats.ts";
import type { SessionResult } from "./session.ts";
import { type Condition, round, turnsPerCall, turnWords, UTTERANCE_MS } from "./settings.ts";

export interface TurnStages {
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
function stagesOf(
  session: SessionResult,
  observed: Observed,
  turns: number,
  ttsTransport: "http" | "websocket",
) {
  const stages: TurnStages[] = [];
  const missing: string[] = [];
  for (const call of session.calls) {
    const stt = observed.stt.get(call.sessionId) ?? [];
    const tts = observed.tts.get(call.sessionId) ?? [];
    const model = observed.model.get(call.tag) ?? [];
    for (let k = 0; k < turns; k++) {
      const words = turnWords(call.tag, k);
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
      const flush = ttsTransport === "http" ? ttsRequest : after("tts_flush", ttsRequest?.at);
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
      const spokeUntil = session.tickers[call.index]?.frameSentAt(page.endAudioMs);
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

export interface RunFigures {
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
    /** The clock tick of the helpers' figures; the workerds' are their threads' run times (ns). */
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
  /** --repeat: these figures are the median of several runs (repeats.ts). */
  repeat?: RepeatSpread;
  error?: string;
}

export function figuresOf(
  condition: Condition,
  n: number,
  session: SessionResult,
  observed: Observed,
  processes: AppProcesses,
  /** How the app under test reached Aura: over HTTP a request is complete as it arrives. */
  ttsTransport: "http" | "websocket",
): RunFigures {
  const turnsEach = turnsPerCall(n);
  const { stages, missing } = stagesOf(session, observed, turnsEach, ttsTransport);
  const s = (pick: (t: TurnStages) => number | null) =>
    summary(
      stages.flatMap((t) => {
        const v = pick(t);
        return v === null || Number.isNaN(v) ? [] : [v];
      }),
    );
  const spread: number[] = [];
  for (let k = 0; k < turnsEach; k++) {
    const at = stages.filter((t) => t.turn === k).map((t) => t.finalAt);
    if (at.length) spread.push(round(Math.max(...at) - Math.min(...at)));
  }
  const figures: RunFigures = {
    condition: condition.name,
    calls: n,
    turns: n * turnsEach,
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
          return [
            turn.endAudioMs -
              UTTERANCE_MS -
              (session.tickers[call.index]?.positionAt(receivedAt) ?? Number.NaN),
          ];
        }),
      ),
    ),
    late_scripted_turns: session.calls.reduce(
      (sum, call) => sum + call.turns.filter((t) => t.late).length,
      0,
    ),
    interrupted_replies: session.calls.reduce((sum, call) => sum + call.interruptions, 0),
    bench_event_loop_delay_ms: session.eventLoopDelay,
    ...(ttsTransport === "websocket" ? { aura_sockets: auraSockets(session, observed) } : {}),
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
    const turnCount = n * turnsEach;
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

/**
 * A turn whose calls' finals came within this is a burst: issue 11's callers stop speaking within
 * one 100 ms frame, and the STT's answers spread them a little more (100–190 ms a turn measured).
 */
export const BURST_SPREAD_MS = 200;

/**
 * The turns of a run that are bursts, for issue 11's burst goal: every turn while each one's
 * finals stayed within BURST_SPREAD_MS, else only the first, where every call's utterance ends in
 * the same frame by construction. Paced as the issue paces them (each caller 400 ms after its own
 * reply), calls whose replies end at different moments drift apart, and their later turns, no
 * longer a burst, would make the burst goal look met.
 */
export function burstTurns(
  run: Pick<RunFigures, "finals_spread_ms" | "final_to_audio_ms" | "first_turn_final_to_audio_ms">,
): {
  which: "every turn" | "the first turn";
  final_to_audio_ms: Summary;
} {
  return run.finals_spread_ms.every((ms) => ms <= BURST_SPREAD_MS)
    ? { which: "every turn", final_to_audio_ms: run.final_to_audio_ms }
    : { which: "the first turn", final_to_audio_ms: run.first_turn_final_to_audio_ms };
}
