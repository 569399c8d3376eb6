/**
 * The fake's live transcription on one socket: plays a script against the audio as it arrives,
 * in Nova's messages (`Results` interim/final, `SpeechStarted`, `UtteranceEnd`) or Flux's
 * (`TurnInfo`). Like Deepgram it answers every second or so of audio even when nobody speaks (an
 * empty result / `Update`) — unless the script makes the socket silent. And like Nova, it
 * finalises a stretch of silence every few seconds with an empty final result (`is_final` with
 * no words): the client may forget that audio, as it does for the audio before a spoken final.
 *
 * A word is reported by a socket only if that socket was sent the audio where the word ends: read
 * from the frames' stamps (stamp.ts), or, for unstamped audio, counted from the connection's
 * start. So audio lost in an outage loses its words, and audio sent twice repeats them.
 *
 * As the real services do, what is said is reported while it is said: `SpeechStarted` (Flux:
 * `StartOfTurn`) once the utterance's first word has been heard, an interim (`Update`) as each
 * further word is; the final and the end of turn come once the whole utterance has been heard
 * (plus the scripted end-of-turn delay). Audio that brings several words at once brings their
 * messages at once.
 */
import type { WebSocket as WsSocket } from "ws";
import type { DeepgramObserver, SttScript } from "./script.ts";
import { stampOf } from "./stamp.ts";

export interface ConnectionLog {
  script: string | undefined;
  audioMs: number;
  keepAlives: number;
  finalizes: number;
  closedByClient: boolean;
  flux: boolean;
}

type Utterance = SttScript["utterances"][number];

/** Deepgram answers about once a second of audio, words or not. */
const HEARTBEAT_MS = 1_000;
/**
 * How much silence Nova finalises at a time. Its empty finals come every few seconds while
 * nobody speaks (e.g. `"transcript":"", "start":25.06, "duration":3.6, "is_final":true` from
 * nova-2, then an empty interim a second later, as logged in pipecat-ai/pipecat#1261).
 */
const SILENCE_FINAL_MS = 3_000;
const OPEN = 1;

export function listen(
  ws: WsSocket,
  log: ConnectionLog,
  script: SttScript | undefined,
  sampleRate: number,
  options: {
    dropAfterAudioMs: number | undefined;
    silent: boolean;
    onDrop: () => void;
    /** Told when a final / end of turn is sent (see DeepgramEvent). */
    onEvent?: DeepgramObserver | undefined;
  },
) {
  // The script's own array: utterances appended to it later are heard too (see `extend`).
  const utterances = script?.utterances ?? [];
  /** Where each utterance's words end in the caller's stream (ms), as `timedWords` places them. */
  const wordEnds: number[][] = [];
  /** Where each utterance's first word starts in the caller's stream (ms). */
  const speechStarts: number[] = [];
  /** Per utterance: for each word this socket heard, where it ended in this socket's stream. */
  const heard: Map<number, number>[] = [];
  /** Catches up with utterances appended to the script since the last frame. */
  const extend = () => {
    for (let u = wordEnds.length; u < utterances.length; u++) {
      const utterance = utterances[u];
      if (!utterance) break;
      const words = timedWords(utterance.text, utterance.afterAudioMs / 1000);
      wordEnds.push(words.map((w) => Math.round(w.end * 1000)));
      speechStarts.push(Math.round((words[0]?.start ?? utterance.afterAudioMs / 1000) * 1000));
      heard.push(new Map<number, number>());
    }
  };
  extend();
  const observe = (
    kind: "stt_final" | "stt_eager_end_of_turn" | "stt_end_of_turn",
    text: string,
  ) => {
    if (options.onEvent && !options.silent && ws.readyState === OPEN)
      options.onEvent({ kind, at: performance.now(), tag: log.script, text });
  };
  let cursor = 0;
  let sequence = 0;
  let turnIndex = 0;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (ms: number, action: () => void) => {
    if (ms === 0) return action();
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  };
  ws.on("close", () => {
    for (const timer of timers) clearTimeout(timer);
  });
  const send = (message: object) =>
    !options.silent && ws.readyState === OPEN && ws.send(JSON.stringify(message));
  /** How far into this socket's stream the finals sent so far reach (ms). */
  let finalizedMs = 0;
  /** Finals due but not yet sent (the scripted end-of-turn delay). */
  let finalsDue = 0;
  const results = (
    text: string,
    endSec: number,
    isFinal: boolean,
    speechFinal: boolean,
    fromFinalize = false,
    startSec?: number,
  ) => {
    const words = text ? timedWords(text, endSec) : [];
    const start = startSec ?? words[0]?.start ?? Math.max(0, endSec - HEARTBEAT_MS / 1000);
    if (isFinal) finalizedMs = Math.max(finalizedMs, endSec * 1000);
    send({
      type: "Results",
      channel_index: [0, 1],
      start,
      duration: endSec - start,
      is_final: isFinal,
      speech_final: speechFinal,
      from_finalize: fromFinalize,
      channel: { alternatives: [{ transcript: text, confidence: text ? 0.98 : 0, words }] },
      metadata: { request_id: "fake", model_info: { name: "fake", version: "1", arch: "fake" } },
    });
  };
  /** The words of `index` this socket heard, and where the last of them ended in its stream. */
  const heardOf = (index: number): { text: string; endSec: number } | undefined => {
    const words = utterances[index]?.text.split(/\s+/) ?? [];
    const got = heard[index] ?? new Map<number, number>();
    const kept = words.filter((_, i) => got.has(i));
    if (!kept.length) return undefined;
    const last = Math.max(...got.values());
    return { text: kept.join(" "), endSec: last / 1000 };
  };
  /** Per utterance: whether its start was reported, and how many of its words in interims. */
  const reported: { started: boolean; words: number }[] = [];
  /**
   * Reports utterance `index` as far as this socket has heard it, its last word excepted (that
   * one comes with the final): the start of speech with the first word (Flux: the turn's start),
   * an interim (Flux: an `Update`) for each word so far. Called for every piece of audio, and
   * with `whole` when the utterance is recognised: whatever was not reported yet comes then.
   */
  const reportSoFar = (index: number, whole = false) => {
    const words = utterances[index]?.text.split(/\s+/) ?? [];
    const ends = [...(heard[index] ?? new Map<number, number>()).entries()].sort(
      (a, b) => a[0] - b[0],
    );
    // A script may place words before the previous utterance's end (a short stretch for many
    // words): the caller is taken to say them only once a word after that end is heard.
    const previousEnd = utterances[index - 1]?.afterAudioMs ?? Number.NEGATIVE_INFINITY;
    if (!whole && !ends.some(([w]) => (wordEnds[index]?.[w] ?? 0) > previousEnd)) return;
    const [first] = ends;
    if (!first) return;
    const state = reported[index] ?? { started: false, words: 0 };
    reported[index] = state;
    if (!state.started) {
      state.started = true;
      const endSec = first[1] / 1000;
      if (log.flux) fluxStart(words[first[0]] ?? "", endSec);
      else send({ type: "SpeechStarted", channel: [0], timestamp: Math.max(0, endSec - 0.25) });
    }
    const upTo = whole ? ends.length - 1 : Math.min(ends.length, words.length - 1);
    for (let n = state.words + 1; n <= upTo; n++) {
      state.words = n;
      const text = ends
        .slice(0, n)
        .map(([w]) => words[w])
        .join(" ");
      const endSec = (ends[n - 1]?.[1] ?? 0) / 1000;
      if (log.flux) turnInfo("Update", text, endSec, 0.1);
      else results(text, endSec, false, false);
    }
  };
  const recogniseNova = (
    index: number,
    utterance: { text: string; endSec: number },
    fromFinalize = false,
  ) => {
    const { endSec } = utterance;
    reportSoFar(index, true);
    const delay = fromFinalize ? 0 : (script?.endOfTurnDelayMs ?? 0);
    finalsDue += 1;
    later(delay, () => {
      finalsDue -= 1;
      results(utterance.text, endSec, true, !fromFinalize, fromFinalize);
      observe("stt_final", utterance.text);
      send({ type: "UtteranceEnd", channel: [0, 1], last_word_end: endSec });
    });
  };
  const turnInfo = (event: string, text: string, endSec: number, confidence: number) =>
    send({
      type: "TurnInfo",
      request_id: "fake",
      sequence_id: ++sequence,
      event,
      turn_index: turnIndex,
      audio_window_start: 0,
      audio_window_end: endSec,
      transcript: text,
      words: text
        ? timedWords(text, endSec).map(({ word, end }) => ({ word, confidence: 0.98, end }))
        : [],
      end_of_turn_confidence: confidence,
    });
  let turnOpen = false;
  /** An EagerEndOfTurn the caller spoke on after: TurnResumed comes with their next words. */
  let resumePending = false;
  /** The caller's first word of an utterance: a resumed turn, or a new one. */
  const fluxStart = (word: string, endSec: number) => {
    if (resumePending) {
      resumePending = false;
      turnInfo("TurnResumed", word, endSec, 0.2);
    }
    if (!turnOpen) {
      turnOpen = true;
      turnInfo("StartOfTurn", word, endSec, 0.01);
    }
  };
  const recogniseFlux = (
    index: number,
    source: Utterance,
    utterance: { text: string; endSec: number },
  ) => {
    const { endSec } = utterance;
    reportSoFar(index, true);
    const eagerDelay = script?.eagerDelayMs ?? 0;
    const eotDelay = Math.max(eagerDelay, script?.endOfTurnDelayMs ?? 0);
    if (source.eager)
      later(eagerDelay, () => {
        turnInfo("EagerEndOfTurn", utterance.text, endSec, 0.55);
        observe("stt_eager_end_of_turn", utterance.text);
      });
    if (source.resumed) {
      resumePending = true;
      return;
    }
    later(eotDelay, () => {
      turnInfo("EndOfTurn", utterance.text, endSec, 0.9);
      observe("stt_end_of_turn", utterance.text);
      turnOpen = false;
      turnIndex += 1;
    });
  };
  /** Everything due once the caller's stream has reached `reachedMs` on this socket. */
  const recogniseThrough = (reachedMs: number) => {
    while (cursor < utterances.length && (utterances[cursor]?.afterAudioMs ?? 0) <= reachedMs) {
      const index = cursor;
      cursor += 1;
      const source = utterances[index];
      const got = heardOf(index);
      if (!source || !got) continue;
      if (log.flux) recogniseFlux(index, source, got);
      else recogniseNova(index, got);
    }
  };
  /** Nobody has spoken since the last final, up to `reachedMs` of the caller's stream. */
  const silentThrough = (reachedMs: number) =>
    // Past the script's last utterance there is no start: silence from there on.
    finalsDue === 0 && reachedMs <= (speechStarts[cursor] ?? Number.POSITIVE_INFINITY);
  /** `ms` of audio that starts at `fromMs` in the caller's stream, `streamMs` into this socket's. */
  const hear = (fromMs: number, ms: number, streamMs: number) => {
    wordEnds.forEach((ends, u) => {
      ends.forEach((end, w) => {
        if (end > fromMs && end <= fromMs + ms) heard[u]?.set(w, streamMs + (end - fromMs));
      });
    });
  };
  const frameBytes = (sampleRate / 50) * 2;
  if (log.flux) send({ type: "Connected", request_id: "fake", sequence_id: 0 });
  ws.on("message", (data, isBinary) => {
    extend();
    if (isBinary) {
      const bytes = Buffer.isBuffer(data)
        ? data
        : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data as ArrayBuffer)]);
      for (let at = 0; at < bytes.length; at += frameBytes) {
        // A dropped connection hears nothing more, even frames already on their way.
        if (ws.readyState !== OPEN) return;
        const piece = bytes.subarray(at, Math.min(bytes.length, at + frameBytes));
        const ms = (piece.length / 2 / sampleRate) * 1000;
        const streamMs = log.audioMs;
        log.audioMs += ms;
        const fromMs = stampOf(piece) ?? streamMs;
        hear(fromMs, ms, streamMs);
        if (options.dropAfterAudioMs !== undefined && log.audioMs >= options.dropAfterAudioMs) {
          options.onDrop();
          ws.close(1011, "scripted drop");
          return;
        }
        if (cursor < utterances.length) reportSoFar(cursor);
        recogniseThrough(fromMs + ms);
        if (Math.floor(log.audioMs / HEARTBEAT_MS) > Math.floor(streamMs / HEARTBEAT_MS)) {
          const endSec = log.audioMs / 1000;
          if (log.flux) turnInfo("Update", "", endSec, 0);
          else if (silentThrough(fromMs + ms) && log.audioMs - finalizedMs >= SILENCE_FINAL_MS)
            results("", endSec, true, false, false, finalizedMs / 1000);
          else results("", endSec, false, false);
        }
      }
      return;
    }
    const message = JSON.parse(String(data)) as { type?: string };
    if (message.type === "KeepAlive") log.keepAlives += 1;
    if (message.type === "Finalize" && !log.flux) {
      log.finalizes += 1;
      const index = cursor;
      const got = index < utterances.length ? heardOf(index) : undefined;
      cursor += 1;
      if (got) recogniseNova(index, got, true);
    }
    if (message.type === "CloseStream") {
      log.closedByClient = true;
      if (ws.readyState === OPEN)
        ws.send(
          JSON.stringify({
            type: "Metadata",
            request_id: "fake",
            duration: log.audioMs / 1000,
            channels: 1,
          }),
        );
      ws.close(1000);
    }
  });
}

/** Words spread over the stretch of audio before `endSec`, a quarter second each. */
export function timedWords(text: string, endSec: number) {
  const words = text.split(/\s+/);
  const step = 0.25;
  return words.map((word, i) => {
    const end = Math.max(0.05, endSec - (words.length - 1 - i) * step);
    return { word, start: Math.max(0, end - step), end, confidence: 0.98, punctuated_word: word };
  });
}
