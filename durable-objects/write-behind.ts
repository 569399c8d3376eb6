/**
 * A turn's storage writes, held back until its reply has started.
 *
 * Every write to a Durable Object's storage closes the object's output gate: nothing it sends
 * after the write — the model request, the text for speech, the first audio — leaves until the
 * write is confirmed (under `wrangler dev` an SQLite commit with an fsync on the one thread; in
 * production a replicated commit). A voice turn used to write its bookkeeping (the turn number,
 * the turn in flight, the caller's activity, LangGraph's input checkpoint) just before asking the
 * model, so the request waited for a commit, and at a burst of turns for everybody's. Held, they
 * are written together, in order, once the reply's first audio has left, a tool starts, or the
 * turn ends: one commit, off the way to the caller's ear. A turn answered in one call holds them
 * on until its answer is recorded, so LangGraph's checkpoint of it joins that commit
 * (conversation.ts): two commits a turn (this one, and the reply's at its end), not three.
 *
 * The price: a runtime restart in that moment (at most MAX_HOLD_MS from each hold) loses the
 * turn's note (the caller hears nothing and says it again) rather than being told the answer was
 * lost. Reads that storage alone can answer write what is held first; the rest is kept in
 * memory. Alarms are never held (deadlines.ts): an alarm lost to a restart would never wake the
 * object.
 */
export interface StorageWrites {
  /** Runs `write` now, or — while held — when the last hold is released. */
  write(write: () => void): void;
  /** Writes what is held now: a read from storage must see it. */
  flush(): void;
  /** Holds writes until the returned release is called, or at the latest after `maxMs`. */
  hold(maxMs?: number): () => void;
}

/** For a store used on its own (tests, objects with no turns): every write at once. */
export const WRITE_AT_ONCE: StorageWrites = {
  write: (write) => write(),
  flush: () => undefined,
  hold: () => () => undefined,
};

/** The longest a turn holds the object's writes: a reply normally starts well within it. */
export const MAX_HOLD_MS = 2_000;

export class WriteBehind implements StorageWrites {
  readonly #held: (() => void)[] = [];
  readonly #onError: (error: unknown) => void;
  #holds = 0;

  /** `onError`: a held write that failed when it was finally made (its caller has moved on). */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  get holding(): boolean {
    return this.#holds > 0;
  }

  write(write: () => void) {
    if (this.#holds === 0) write();
    else this.#held.push(write);
  }

  /**
   * Holds writes until the returned release is called (once; later calls do nothing), or at
   * the latest after `maxMs`: a turn that neither speaks nor ends does not hold them for long.
   */
  hold(maxMs?: number): () => void {
    this.#holds += 1;
    let released = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      this.#holds -= 1;
      if (this.#holds === 0) this.flush();
    };
    if (maxMs !== undefined) timer = setTimeout(release, maxMs);
    return release;
  }

  flush() {
    for (const write of this.#held.splice(0)) {
      try {
        write();
      } catch (error) {
        this.#onError(error);
      }
    }
  }

  /** The storage was wiped: what was held would bring it back. */
  discard() {
    this.#held.length = 0;
  }
}
