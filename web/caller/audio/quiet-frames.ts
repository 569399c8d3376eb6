/**
 * Which of the microphone's 20 ms frames leave at once, and which are joined first.
 *
 * Every message the page sends costs the call's Durable Object an event and a send to Deepgram
 * (most of a frame's cost on the server), and Cloudflare bills WebSocket messages as requests. At
 * 20 ms that is fifty a second for the whole call, though most of a call the caller is quiet:
 * listening to a reply, or thinking. So once the caller has been quiet for QUIET_AFTER_MS, frames
 * are joined into messages of up to 100 ms (the most a frame may carry, protocol/audio-frame.ts).
 *
 * What it must not cost is time where time counts:
 * - the end of the caller's turn: Deepgram decides it on the silence after their words, and that
 *   silence goes out 20 ms at a time, since the caller spoke less than QUIET_AFTER_MS before
 *   (Nova ends a turn 300 ms into it, its utterance end at 1 s; Flux's EndOfTurn usually within a
 *   second, and only its 5 s timeout falls in the joined stretch, up to 80 ms later);
 * - the start of speech (a barge-in, a new turn): a frame at or above QUIET_LEVEL leaves at once,
 *   right after the quiet frames held before it (their own message), so Deepgram hears it no later
 *   than before (softer sounds just before it, held, arrive with it);
 * - a person on a transfer, who hears the caller live: the caller of `push` says when frames
 *   must not wait.
 * A caller who speaks below QUIET_LEVEL throughout has their turn's end heard up to 80 ms later.
 */
import { MAX_AUDIO_PAYLOAD_BYTES } from "../../../protocol/audio-frame.ts";
import { FRAME_SAMPLES } from "./mic-framer.ts";

/** A frame's RMS (0–1 of full scale) from which it counts as the caller's voice: −45 dBFS. */
export const QUIET_LEVEL = 10 ** (-45 / 20);
/** Quiet this long, frames may be joined. Deepgram's end of turn comes well within it. */
export const QUIET_AFTER_MS = 2_000;
export const FRAME_MS = 20;
/** Frames in one joined message: 100 ms. */
export const JOINED_FRAMES = MAX_AUDIO_PAYLOAD_BYTES / (FRAME_SAMPLES * 2);

export class QuietFrames {
  readonly #held: Int16Array<ArrayBuffer>[] = [];
  /** How long the caller has been quiet; a new microphone starts as if they had just spoken. */
  #quietMs = 0;

  /**
   * One frame and its RMS level. `send` gets each message's PCM: one frame, or quiet frames
   * joined. `mayWait`: false while nothing may be held.
   */
  push(
    frame: Int16Array<ArrayBuffer>,
    level: number,
    mayWait: boolean,
    send: (pcm: Int16Array<ArrayBuffer>) => void,
  ) {
    this.#quietMs = level >= QUIET_LEVEL ? 0 : this.#quietMs + FRAME_MS;
    if (mayWait && this.#quietMs >= QUIET_AFTER_MS) {
      this.#held.push(frame);
      if (this.#held.length >= JOINED_FRAMES) this.flush(send);
      return;
    }
    // The quiet held so far goes first, in a message of its own: a joined message never holds
    // voice (the server may let a whole message go once Deepgram has made part of it final).
    this.flush(send);
    send(frame);
  }

  /** Sends what is held, as one message (the microphone closes). */
  flush(send: (pcm: Int16Array<ArrayBuffer>) => void) {
    const [first, ...rest] = this.#held;
    if (!first) return;
    if (rest.length === 0) {
      this.#held.length = 0;
      return send(first);
    }
    const joined = new Int16Array(this.#held.reduce((n, frame) => n + frame.length, 0));
    let at = 0;
    for (const frame of this.#held) {
      joined.set(frame, at);
      at += frame.length;
    }
    this.#held.length = 0;
    send(joined);
  }

  /** Frames held now (for tests and the bench). */
  get held(): number {
    return this.#held.length;
  }
}
