/**
 * Deadlines on provider streams: a stream that goes quiet past its deadline is abandoned with a
 * `ProviderTimeoutError` instead of keeping the turn (and the caller) waiting forever.
 */
import { ProviderTimeoutError } from "./errors.ts";

/**
 * The items of the stream `open(signal)` makes, failing with a `ProviderTimeoutError` when the
 * next one (the first included: connecting counts) takes longer than `idleMs`. The stream's own
 * signal is aborted then, with that error as its reason, so the provider adapter can tell a
 * deadline from a barge-in. Ends quietly when `signal` aborts.
 *
 * The stream must end (or throw) once its signal aborts — every provider adapter here does —
 * so no item is raced against a timer: audio comes in many small pieces, and a race per piece
 * cost more than the piece's own work. One timer serves the whole stream: when it fires early
 * it sleeps again for what is left since the item was asked for.
 */
export async function* withIdleDeadline<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  idleMs: number,
  signal: AbortSignal,
  what: string,
): AsyncGenerator<T> {
  if (signal.aborted) return;
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  let timedOut: ProviderTimeoutError | undefined;
  let askedAt = Date.now();
  /** The consumer holds the last item: its time is not the stream's. */
  let held = false;
  const check = () => {
    const left = held ? idleMs : askedAt + idleMs - Date.now();
    if (left > 0) {
      timer = setTimeout(check, left);
      return;
    }
    timedOut = new ProviderTimeoutError(`${what} sent nothing for ${idleMs} ms.`);
    controller.abort(timedOut);
  };
  let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(check, idleMs);
  const iterator = open(controller.signal)[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      askedAt = Date.now();
      held = false;
      let next: IteratorResult<T>;
      try {
        next = await iterator.next();
      } catch (error) {
        if (timedOut) throw timedOut;
        if (signal.aborted) return;
        throw error;
      }
      if (timedOut) throw timedOut;
      if (signal.aborted) return;
      if (next.done) {
        finished = true;
        return;
      }
      held = true;
      yield next.value;
    }
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    // Left early (deadline, abort, the consumer stopped): let the stream clean up, unawaited —
    // a stream stuck on a silent provider may only settle once its signal has done its work.
    if (!finished) iterator.return?.()?.catch(() => undefined);
  }
}

/**
 * `promise`, or a rejection with the signal's reason once it aborts. A result that arrives too
 * late is handed to `discard` (a socket that opened after its deadline is closed, not leaked).
 */
export function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  discard: (late: T) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        if (settled) return discard(value);
        settled = true;
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        if (settled) return;
        settled = true;
        reject(error);
      },
    );
  });
}
