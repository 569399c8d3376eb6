/**
 * What the page tells the server about the assistant's replies it plays: when a reply started
 * playing (how long its first frame waited, and the socket's round trip), and how much of a
 * reply had played when a barge-in stopped it — the server keeps only that part.
 */
import type { ClientMessage, ServerMessageOf } from "../../protocol/messages.ts";

/** The protocol's bound on a measured duration (ten minutes). */
const MAX_MS = 600_000;

export class PlaybackReport {
  readonly #send: (message: ClientMessage) => boolean;
  /** The reply being played (from voice_metrics), and the player's measure of its start. */
  #turnId: string | undefined;
  #playoutDelayMs: number | undefined;
  /** The turn a playback_clear named, waiting for the player's count. */
  #clearing: string | undefined;
  #rttMs: number | undefined;

  constructor(send: (message: ClientMessage) => boolean) {
    this.#send = send;
  }

  /** The server's figures for a turn: once it has sent audio, the page says when it played. */
  metrics(message: ServerMessageOf<"voice_metrics">) {
    if (message.endToEndPlayedMs !== null || this.#turnId === message.turnId) return;
    this.#turnId = message.turnId;
    this.#reportStarted();
  }

  /** A pong to the ping sent at `sentAt`. */
  pong(sentAt: number) {
    this.#rttMs = Math.max(0, Date.now() - sentAt);
  }

  /** The player started a reply, `playoutDelayMs` after its first frame arrived. */
  started(playoutDelayMs: number) {
    this.#playoutDelayMs = Math.min(playoutDelayMs, MAX_MS);
    this.#reportStarted();
  }

  /** The server asked to stop `turnId` (barge-in); the player's count follows. */
  clearing(turnId: string) {
    this.#clearing = turnId;
  }

  /** The player stopped after `playedMs` of the reply. */
  cleared(playedMs: number) {
    if (this.#clearing === undefined) return;
    this.#send({ type: "playback_stopped", turnId: this.#clearing, playedMs });
    this.#clearing = undefined;
  }

  #reportStarted() {
    if (this.#turnId === undefined || this.#playoutDelayMs === undefined) return;
    this.#send({
      type: "playback_started",
      turnId: this.#turnId,
      playoutDelayMs: this.#playoutDelayMs,
      ...(this.#rttMs === undefined ? {} : { rttMs: this.#rttMs }),
    });
    this.#turnId = undefined;
    this.#playoutDelayMs = undefined;
  }
}
