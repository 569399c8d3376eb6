/**
 * One spoken reply: its speech output, the timeline of its latency marks, whether it may still be
 * taken back (Flux speculation), and what the page reported of its playback — how much the caller
 * heard before speaking over it, and how long the first audio waited in the page's buffer.
 */
import type { VoiceFigures } from "../protocol/messages.ts";
import { HeldOutput } from "../voice/held-output.ts";
import { SpeechOutput, type Synthesize } from "../voice/speech-output.ts";
import { summarize, type TurnMarks, type VoiceTurnMetrics } from "../voice/turn-metrics.ts";
import type { SpeechSink } from "./conversation.ts";

/**
 * How long the page's report of what it played is awaited after a barge-in. Nothing waits on it:
 * a cut-off turn ends at once with the clock's estimate, and the report only corrects the record.
 * A page answers within a round trip; after this the estimate stands.
 */
const PLAYED_REPORT_TIMEOUT_MS = 5_000;

/** Said when a retry of the model keeps the caller waiting (voice-ux: no dead air). */
export const HOLD_ON_TEXT = "One moment, please.";

export interface VoiceTurnDeps {
  id: string;
  marks: TurnMarks;
  output?: HeldOutput;
  synthesize: Synthesize;
  sendAudio(pcm: Uint8Array, replyStart: boolean): void;
  onFirstAudio(turn: VoiceTurn): void;
  onError(error: unknown): void;
  /** Speech failed this turn (the reply stays text); `clipPlayed` when the apology was heard. */
  onFailed?(turn: VoiceTurn, clipPlayed: boolean): void;
  /** Longest wait for a sentence's next audio. @default 4000 */
  timeoutMs?: number;
  /** Longest text the synthesiser takes at once. */
  maxTextChars?: number;
  /** The apology played when speech fails, if one was made. */
  apologyClip?: () => Uint8Array | undefined;
  /** A model retry that keeps the caller waiting this long in silence is announced aloud. */
  holdOnAfterMs?: number;
  /** A tool still running this long, with nothing playing, is announced aloud. @default 1000 */
  toolHoldOnMs?: number;
}

export interface PlaybackFigures {
  /** First frame received by the page → it started playing (the jitter buffer). */
  playoutDelayMs: number;
  /** The page's last measured round trip to the server, if any. */
  rttMs?: number;
}

/** Work waiting for a moment in a turn: run when it comes, or at once if it has come. */
class Moment {
  #waiting: (() => void)[] | undefined = [];

  add(work: () => void) {
    if (this.#waiting) this.#waiting.push(work);
    else work();
  }

  /** The moment came (again: nothing more to do). */
  arrive() {
    const waiting = this.#waiting ?? [];
    this.#waiting = undefined;
    for (const work of waiting) work();
  }
}

export class VoiceTurn implements SpeechSink {
  readonly id: string;
  readonly output: HeldOutput;
  readonly marks: TurnMarks;
  readonly #speech: SpeechOutput;
  #cleared = false;
  #playedMs: number | undefined;
  #reportPlayed: (playedMs: number) => void = () => undefined;
  readonly #playedReport: Promise<number>;
  #playback: PlaybackFigures | undefined;
  #recordLater: ((metrics: Record<string, number>) => void) | undefined;
  readonly #holdOnAfterMs: number;
  #heldOn = false;
  readonly #toolHoldOnMs: number;
  #toolTimer: ReturnType<typeof setTimeout> | undefined;
  /** The reply's first audio has left. */
  readonly #firstAudio = new Moment();
  /** The reply has started: its first audio left, or a tool started. */
  readonly #started = new Moment();

  constructor(deps: VoiceTurnDeps) {
    this.id = deps.id;
    this.marks = deps.marks;
    this.output = deps.output ?? HeldOutput.committed();
    this.#playedReport = new Promise((resolve) => {
      this.#reportPlayed = resolve;
    });
    this.#holdOnAfterMs = deps.holdOnAfterMs ?? 1_500;
    this.#toolHoldOnMs = deps.toolHoldOnMs ?? 1_000;
    this.#speech = new SpeechOutput({
      synthesize: deps.synthesize,
      sendAudio: deps.sendAudio,
      marks: deps.marks,
      output: this.output,
      ...(deps.timeoutMs === undefined ? {} : { timeoutMs: deps.timeoutMs }),
      ...(deps.maxTextChars === undefined ? {} : { maxTextChars: deps.maxTextChars }),
      ...(deps.apologyClip ? { apologyClip: deps.apologyClip } : {}),
      onFirstAudio: () => {
        deps.onFirstAudio(this);
        // At once: what waits for these moments (the turn's held storage writes, LangGraph's
        // record) goes through afterOtherRepliesStarted, which puts it off
        // AFTER_SEND_MS at least (first-audio-priority.ts), so the frame is written first. The
        // reply stops counting as waiting now, not a macrotask later.
        this.#firstAudio.arrive();
        this.#started.arrive();
      },
      onError: deps.onError,
      onFailed: (clipPlayed) => deps.onFailed?.(this, clipPlayed),
    });
  }

  get speaking(): boolean {
    return this.#speech.speaking;
  }

  get spoken(): string[] {
    return this.#speech.spoken;
  }

  modelRequested() {
    this.#speech.modelRequested();
  }

  afterFirstAudio(work: () => void) {
    this.#firstAudio.add(work);
  }

  /** Runs `work` when the reply starts: its first audio leaves, or a tool starts. */
  onceStarted(work: () => void) {
    this.#started.add(work);
  }

  /**
   * The model is being retried; the caller will have waited `waitMs` in silence by the time it
   * is asked again. A long wait before anything was said is announced, once.
   */
  modelRetrying(waitMs: number) {
    if (this.#heldOn || this.#speech.hasReply || waitMs < this.#holdOnAfterMs) return;
    this.#heldOn = true;
    this.#speech.aside(HOLD_ON_TEXT);
  }

  /**
   * A tool started: if it is still running after `toolHoldOnMs` with nothing playing, the caller
   * hears "One moment, please." once per turn — said aside, so it is neither part of the reply
   * nor of what was heard. While "Let me check." still plays, the wait starts again.
   */
  toolStarted() {
    this.#started.arrive();
    if (this.#heldOn || this.#toolTimer !== undefined) return;
    const check = () => {
      if (this.#heldOn) return;
      if (this.#speech.speaking) {
        this.#toolTimer = setTimeout(check, this.#toolHoldOnMs);
        return;
      }
      this.#toolTimer = undefined;
      this.#heldOn = true;
      this.#speech.aside(HOLD_ON_TEXT);
    };
    this.#toolTimer = setTimeout(check, this.#toolHoldOnMs);
  }

  toolFinished() {
    clearTimeout(this.#toolTimer);
    this.#toolTimer = undefined;
  }

  write(delta: string) {
    this.#speech.write(delta);
  }

  textEnded() {
    this.#speech.textEnded();
  }

  end(): Promise<void> {
    return this.#speech.end();
  }

  stop() {
    this.toolFinished();
    this.#speech.stop();
  }

  /** The page was told to stop playing this reply (barge-in): it will report what it played. */
  cleared() {
    this.#cleared = true;
    this.#speech.stop();
  }

  /** The page stopped this reply after playing `playedMs` of it. */
  playbackStopped(playedMs: number) {
    this.#playedMs = playedMs;
    this.#reportPlayed(playedMs);
  }

  /** The page started playing this reply. */
  playbackStarted(figures: PlaybackFigures) {
    if (this.#playback) return;
    this.#playback = figures;
    const played = this.summary().endToEndPlayedMs;
    if (played !== null) this.#recordLater?.({ endToEndPlayedMs: played });
  }

  onLaterMetrics(record: (metrics: Record<string, number>) => void) {
    this.#recordLater = record;
  }

  heardNow(): string {
    // No report yet (or none coming: a typed message cut the reply): what had time to play.
    return this.#speech.heardText(this.#playedMs ?? this.#speech.playedEstimateMs);
  }

  async heardReported(): Promise<string | undefined> {
    if (!this.#cleared) return undefined;
    if (this.#playedMs === undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#playedReport,
        new Promise((resolve) => {
          timer = setTimeout(resolve, PLAYED_REPORT_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    return this.#playedMs === undefined ? undefined : this.#speech.heardText(this.#playedMs);
  }

  summary(): VoiceTurnMetrics & { endToEndPlayedMs: number | null } {
    const summary = summarize(this.marks);
    const played =
      summary.endToEndMs === null || !this.#playback
        ? null
        : Math.round(
            summary.endToEndMs + this.#playback.playoutDelayMs + (this.#playback.rttMs ?? 0) / 2,
          );
    return { ...summary, endToEndPlayedMs: played };
  }

  metrics(): VoiceFigures {
    return this.summary();
  }
}
