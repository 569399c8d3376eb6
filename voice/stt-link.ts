/**
 * The caller's ears: one live-transcription socket at a time, kept working across faults.
 *
 * - Audio Deepgram has not made final is kept (`UnheardAudio`, bounded) and sent again on a new
 *   socket, so no words are lost when one drops; audio that arrives with no socket waits there.
 * - A lost socket is reopened at once; if that fails, again after a capped exponential backoff
 *   with jitter — attempts are paced by a timer, never by the 50 audio frames a second.
 * - A socket that leaves audio unanswered too long (a silent Deepgram) is given up and reopened.
 * - The caller is told once per outage (`onTrouble`); after `giveUpAfterMs` without a working
 *   socket, or at once when retrying cannot help (a refused key), the link gives up
 *   (`onGaveUp`). Audio that arrives after a pause (the caller turned the microphone on again)
 *   starts afresh.
 */
import { type BackoffPolicy, backoffDelay } from "./backoff.ts";
import { untilAborted } from "./deadline.ts";
import type { LiveStt, SttEvent, TranscriptEvent } from "./deepgram/live-stt.ts";
import { ProviderTimeoutError, VoiceProviderError } from "./errors.ts";
import { AudioClock } from "./turn-metrics.ts";
import { type CallerFrame, UnheardAudio } from "./unheard-audio.ts";

export interface SttLinkSettings extends BackoffPolicy {
  /** Longest a connection attempt, or audio sent on an open socket, may go unanswered. */
  silentTimeoutMs: number;
  /** With no working socket for this long, the link gives up. */
  giveUpAfterMs: number;
}

export interface SttLinkDeps {
  /** Opens one socket; `signal` abandons the attempt. */
  connect(onEvent: (event: SttEvent) => void, signal: AbortSignal): Promise<LiveStt>;
  onEvent(event: TranscriptEvent): void;
  /** Transcription is in trouble (once per outage): the caller should hear about it. */
  onTrouble(): void;
  /** Transcription is unavailable; the audio kept was let go. */
  onGaveUp(): void;
  log(level: "info" | "warn", message: string, error?: unknown): void;
  random?: () => number;
}

/** Audio kept for a new socket: 30 s, beyond which an outage loses the oldest words. */
export const UNHEARD_LIMIT_MS = 30_000;
/** Deepgram closes a live socket after ~10 s without audio; KeepAlive holds it open. */
const KEEPALIVE_AFTER_MS = 5_000;
/** After giving up, audio after a pause this long is the caller trying again (the mic back on). */
const RESTART_AFTER_PAUSE_MS = 1_000;

interface Connection {
  stt: LiveStt | undefined;
  /** Deepgram has answered on this socket: the link works again. */
  answered: boolean;
}

export class SttLink {
  readonly #deps: SttLinkDeps;
  readonly #settings: SttLinkSettings;
  readonly #unheard = new UnheardAudio(UNHEARD_LIMIT_MS);
  readonly #clock = new AudioClock();
  #connection: Connection | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  /** Failures (lost sockets, failed attempts) since the link last worked: paces the backoff. */
  #failures = 0;
  #outageSince: number | undefined;
  #troubleTold = false;
  #overflowTold = false;
  #gaveUp = false;
  #closed = false;
  #lastAudioAt = 0;
  /** Audio sent since Deepgram last said anything: when the oldest of it left, and how much. */
  #unansweredSince: number | undefined;
  #unansweredMs = 0;
  /** Connection attempts made (for the log and the tests' bounds). */
  attempts = 0;

  constructor(deps: SttLinkDeps, settings: SttLinkSettings) {
    this.#deps = deps;
    this.#settings = settings;
  }

  /** When the audio `seconds` into the current socket's stream reached the server. */
  arrivalOf(seconds: number): number | undefined {
    return this.#clock.arrivalOf(seconds);
  }

  /** One frame of caller audio (16 kHz PCM16), arrived at `at`. */
  send(pcm: Uint8Array, at: number) {
    if (this.#closed) return;
    const pause = at - this.#lastAudioAt;
    this.#lastAudioAt = at;
    if (this.#gaveUp) {
      if (pause < RESTART_AFTER_PAUSE_MS) return;
      this.#gaveUp = false;
      this.#failures = 0;
      this.#outageSince = undefined;
      this.#troubleTold = false;
    }
    const { frame, overflowed } = this.#unheard.push(pcm, at);
    if (overflowed && !this.#overflowTold) {
      this.#overflowTold = true;
      this.#deps.log(
        "warn",
        `over ${UNHEARD_LIMIT_MS / 1000} s of audio unheard: the oldest is lost`,
      );
    }
    const stt = this.#connection?.stt;
    if (stt) {
      this.#sendFrame(stt, frame);
      this.#checkAnswered(at);
    } else if (!this.#connection && this.#retryTimer === undefined) {
      this.#connect();
    }
  }

  close() {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#keepAlive);
    const stt = this.#connection?.stt;
    this.#connection = undefined;
    stt?.close();
    this.#unheard.clear();
  }

  #sendFrame(stt: LiveStt, frame: CallerFrame) {
    this.#unheard.sent(frame);
    this.#clock.sent(frame.ms, frame.at);
    this.#unansweredSince ??= Date.now();
    this.#unansweredMs += frame.ms;
    stt.sendAudio(frame.pcm);
  }

  /** Deepgram answers every second or so of audio; a socket that stopped is given up. */
  #checkAnswered(now: number) {
    const silent = this.#settings.silentTimeoutMs;
    const since = this.#unansweredSince;
    if (since === undefined || this.#unansweredMs < silent || now - since < silent) return;
    this.#deps.log(
      "warn",
      `Deepgram left ${Math.round(this.#unansweredMs)} ms of audio unanswered`,
    );
    this.#drop();
    // The caller has already waited on a silent socket: tell them now.
    this.#tellTrouble();
    this.#lost();
  }

  #connect() {
    this.#retryTimer = undefined;
    const connection: Connection = { stt: undefined, answered: false };
    this.#connection = connection;
    this.attempts += 1;
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(
          new ProviderTimeoutError(
            `Deepgram did not open a socket within ${this.#settings.silentTimeoutMs} ms.`,
          ),
        ),
      this.#settings.silentTimeoutMs,
    );
    const opening = this.#deps.connect(
      (event) => this.#onEvent(connection, event),
      controller.signal,
    );
    untilAborted(opening, controller.signal, (late) => late.close())
      .then((stt) => {
        if (this.#connection !== connection || this.#closed) return stt.close();
        connection.stt = stt;
        this.#opened(stt);
      })
      .catch((error: unknown) => {
        if (this.#connection !== connection) return;
        this.#connection = undefined;
        this.#attemptFailed(error);
      })
      .finally(() => clearTimeout(timer));
  }

  #opened(stt: LiveStt) {
    this.#clock.reset();
    this.#unansweredSince = undefined;
    this.#unansweredMs = 0;
    const replay = this.#unheard.newStream();
    if (this.#outageSince !== undefined)
      this.#deps.log("info", `Deepgram socket reopened; ${replay.length} frames sent again`);
    for (const frame of replay) this.#sendFrame(stt, frame);
    clearInterval(this.#keepAlive);
    this.#keepAlive = setInterval(() => {
      if (Date.now() - this.#lastAudioAt >= KEEPALIVE_AFTER_MS) stt.keepAlive();
    }, KEEPALIVE_AFTER_MS);
  }

  #onEvent(connection: Connection, event: SttEvent) {
    // A socket already replaced: what it still says was (or will be) heard again on the new one.
    if (this.#connection !== connection) return;
    switch (event.type) {
      case "alive":
        this.#unansweredSince = undefined;
        this.#unansweredMs = 0;
        if (!connection.answered) {
          connection.answered = true;
          this.#failures = 0;
          this.#outageSince = undefined;
          this.#troubleTold = false;
          this.#overflowTold = false;
        }
        return;
      case "finalized":
        return this.#unheard.finalThrough(event.throughSec * 1000);
      case "closed":
        this.#deps.log("warn", `Deepgram socket closed (${event.code}); reopening`);
        this.#drop();
        return this.#lost();
      default:
        return this.#deps.onEvent(event);
    }
  }

  /** Lets the current socket go (closing it if it is still open). */
  #drop() {
    clearInterval(this.#keepAlive);
    const stt = this.#connection?.stt;
    this.#connection = undefined;
    stt?.close();
  }

  /** The socket is gone: try again — at once the first time, then with backoff. */
  #lost() {
    if (this.#closed) return;
    this.#outageSince ??= Date.now();
    this.#failures += 1;
    this.#unansweredSince = undefined;
    this.#unansweredMs = 0;
    this.#retry();
  }

  #attemptFailed(error: unknown) {
    if (this.#closed) return;
    this.#outageSince ??= Date.now();
    this.#failures += 1;
    const retryable = !(error instanceof VoiceProviderError) || error.retryable;
    this.#deps.log("warn", `could not reach Deepgram (attempt ${this.attempts})`, error);
    if (!retryable) return this.#giveUp();
    this.#tellTrouble();
    this.#retry();
  }

  #retry() {
    const since = this.#outageSince ?? Date.now();
    const left = since + this.#settings.giveUpAfterMs - Date.now();
    if (left <= 0) return this.#giveUp();
    const delay =
      this.#failures <= 1
        ? 0
        : backoffDelay(this.#failures - 1, this.#settings, this.#deps.random ?? Math.random);
    if (delay === 0) return this.#connect();
    // The last attempt is made at the deadline, not after it.
    this.#retryTimer = setTimeout(() => this.#connect(), Math.min(delay, left));
  }

  #tellTrouble() {
    if (this.#troubleTold) return;
    this.#troubleTold = true;
    this.#deps.onTrouble();
  }

  #giveUp() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#drop();
    this.#gaveUp = true;
    this.#unheard.clear();
    this.#deps.log("warn", `giving up on Deepgram after ${this.attempts} attempts`);
    this.#deps.onGaveUp();
  }
}
