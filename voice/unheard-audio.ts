/**
 * The caller's audio that Deepgram has not yet made final. If the transcription socket is lost,
 * Deepgram forgets whatever it had not finalised, so this audio is sent again on the next socket;
 * audio that arrives while there is no socket waits here too. Bounded in duration: a caller who
 * talks through a long outage loses the oldest audio, never the server's memory.
 */

export interface CallerFrame {
  pcm: Uint8Array;
  /** When it reached the server: end-of-speech times are measured from here. */
  at: number;
  ms: number;
  /** Where it starts in the current socket's stream; undefined until sent on it. */
  streamStartMs: number | undefined;
}

/** 16 kHz PCM16: 32 bytes per millisecond. */
const BYTES_PER_MS = 32;

export class UnheardAudio {
  readonly #limitMs: number;
  #frames: CallerFrame[] = [];
  #totalMs = 0;
  /** How much audio the current socket has been sent. */
  #streamMs = 0;

  constructor(limitMs: number) {
    this.#limitMs = limitMs;
  }

  get durationMs(): number {
    return this.#totalMs;
  }

  /** Keeps a copy of `pcm`; reports whether older audio had to be let go to stay in bounds. */
  push(pcm: Uint8Array, at: number): { frame: CallerFrame; overflowed: boolean } {
    const frame: CallerFrame = {
      // Kept as given, not copied: each socket message arrives in a buffer of its own, which
      // nothing writes to afterwards.
      pcm,
      at,
      ms: pcm.byteLength / BYTES_PER_MS,
      streamStartMs: undefined,
    };
    this.#frames.push(frame);
    this.#totalMs += frame.ms;
    let overflowed = false;
    while (this.#totalMs > this.#limitMs && this.#frames.length > 1) {
      const dropped = this.#frames.shift();
      this.#totalMs -= dropped?.ms ?? 0;
      overflowed = true;
    }
    return { frame, overflowed };
  }

  /** `frame` went out on the current socket: it now has a place in that socket's stream. */
  sent(frame: CallerFrame) {
    frame.streamStartMs = this.#streamMs;
    this.#streamMs += frame.ms;
  }

  /** A new socket: its stream starts at 0. Returns everything kept, oldest first, to send again. */
  newStream(): CallerFrame[] {
    this.#streamMs = 0;
    for (const frame of this.#frames) frame.streamStartMs = undefined;
    return [...this.#frames];
  }

  /**
   * Deepgram will not revise anything before `streamMs` (an `is_final` result's end): that audio
   * need never be sent again. A frame that straddles the point goes too — sending its tail again
   * would have a new socket hear the end of a word it already gave.
   */
  finalThrough(streamMs: number) {
    let drop = 0;
    for (const frame of this.#frames) {
      if (frame.streamStartMs === undefined || frame.streamStartMs >= streamMs) break;
      drop += 1;
      this.#totalMs -= frame.ms;
    }
    if (drop) this.#frames.splice(0, drop);
  }

  clear() {
    this.#frames = [];
    this.#totalMs = 0;
    this.#streamMs = 0;
  }
}
