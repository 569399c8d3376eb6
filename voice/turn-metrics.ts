/**
 * Per-turn voice latency, in the terms LiveKit and Pipecat report. Each stage marks the moment
 * it happened (server clock, ms); `summarize` turns the marks into durations. The server's own
 * added time is what is left of the critical path once the providers' waits are taken out:
 *
 *   end of turn ─ours─▶ model request ─Claude─▶ first sentence ─ours─▶ TTS request
 *     ─Aura─▶ first audio byte ─ours─▶ first audio frame sent
 *
 * Turning a sentence into a TTS request is synchronous here, so "first sentence → TTS request"
 * is counted with the model. Tool calls before the first sentence count as the model's time.
 */
export interface TurnMarks {
  /** The audio of the caller's last word reached the server: they stopped speaking. */
  speechEndAt?: number;
  /** The turn's last final transcript arrived. */
  sttFinalAt?: number;
  /** The turn was decided: speech_final, UtteranceEnd or Flux EndOfTurn. */
  endOfTurnAt?: number;
  /** The agent started: at the end of turn, or earlier on a Flux EagerEndOfTurn. */
  pipelineStartAt?: number;
  /** The turn's first request to the model. */
  modelRequestAt?: number;
  modelFirstTextAt?: number;
  /** The first sentence went to TTS. */
  ttsRequestAt?: number;
  ttsFirstByteAt?: number;
  firstAudioSentAt?: number;
  /** Started on a Flux EagerEndOfTurn before the caller's turn was certain. */
  speculative?: boolean;
}

export interface VoiceTurnMetrics {
  /** Caller stopped speaking → turn decided. */
  endOfTurnDelayMs: number | null;
  /** Caller stopped speaking → final transcript. */
  sttFinalDelayMs: number | null;
  /** Model request → first text token. */
  llmTtftMs: number | null;
  /** First sentence to TTS → its first audio byte. */
  ttsTtfbMs: number | null;
  /**
   * Time the server itself added on the critical path (see above), by its own clock — a live
   * figure for the page and the log, not a measurement of the Worker's cost. It cannot see what
   * happens before its first mark (the message waiting behind other events of the object's
   * thread, its parsing) or after its last (the frame leaving the socket once the handler
   * yields), nor, in production, its own CPU: a Worker's clock stands still during synchronous
   * work. `npm run bench` measures the same path from outside (docs/benchmarks.md): at 1 call
   * it reads 2–3 ms where the outside clock sees ~16 ms, and at 50 calls 1–2 ms against ~280.
   */
  serverAddedMs: number | null;
  /** Caller stopped speaking → first assistant audio sent. */
  endToEndMs: number | null;
  speculative: boolean;
}

const span = (from: number | undefined, to: number | undefined) =>
  from === undefined || to === undefined ? null : Math.max(0, Math.round(to - from));

export function summarize(m: TurnMarks): VoiceTurnMetrics {
  const dispatch = span(m.pipelineStartAt, m.modelRequestAt);
  // Audio ready before the turn was certain waits for it: that wait is not the server's.
  const readyAt =
    m.ttsFirstByteAt === undefined
      ? undefined
      : Math.max(m.ttsFirstByteAt, m.speculative ? (m.endOfTurnAt ?? 0) : 0);
  const send = span(readyAt, m.firstAudioSentAt);
  return {
    endOfTurnDelayMs: span(m.speechEndAt, m.endOfTurnAt),
    sttFinalDelayMs: span(m.speechEndAt, m.sttFinalAt),
    llmTtftMs: span(m.modelRequestAt, m.modelFirstTextAt),
    ttsTtfbMs: span(m.ttsRequestAt, m.ttsFirstByteAt),
    serverAddedMs: dispatch === null || send === null ? null : dispatch + send,
    endToEndMs: span(m.speechEndAt ?? m.endOfTurnAt, m.firstAudioSentAt),
    speculative: m.speculative === true,
  };
}

/**
 * Maps a position in the audio sent to Deepgram (seconds from the start of one connection's
 * stream) to the moment that audio reached the server. Frames replayed on a new connection keep
 * the time they first arrived, so the mapping stays true across a reconnect.
 */
export class AudioClock {
  #endsMs: number[] = [];
  #arrivedAt: number[] = [];
  #totalMs = 0;
  readonly #limit: number;

  constructor(limit = 3_000) {
    this.#limit = limit;
  }

  /** A new Deepgram connection: its stream starts at 0 again. */
  reset() {
    this.#endsMs = [];
    this.#arrivedAt = [];
    this.#totalMs = 0;
  }

  /** `durationMs` of audio that first reached the server at `arrivedAt` was sent. */
  sent(durationMs: number, arrivedAt: number) {
    this.#totalMs += durationMs;
    this.#endsMs.push(this.#totalMs);
    this.#arrivedAt.push(arrivedAt);
    if (this.#endsMs.length > this.#limit) {
      this.#endsMs.shift();
      this.#arrivedAt.shift();
    }
  }

  /** When the audio at `seconds` into the stream reached the server, if still known. */
  arrivalOf(seconds: number): number | undefined {
    const ms = seconds * 1000;
    // Frames are in order: binary search for the first that ends at or after `ms`.
    let lo = 0;
    let hi = this.#endsMs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#endsMs[mid] ?? 0) < ms - 0.5) lo = mid + 1;
      else hi = mid;
    }
    return this.#arrivedAt[lo];
  }
}
