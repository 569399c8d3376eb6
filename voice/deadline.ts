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
 */
export async function* withIdleDeadline<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  idleMs: number,
  signal: AbortSignal,
  what: string,
): AsyncGenerator<T> {
  const controller = new AbortController();
  let stopWaiting: () => void = () => undefined;
  const aborted = new Promise<"aborted">((resolve) => {
    stopWaiting = () => resolve("aborted");
  });
  const onAbort = () => {
    controller.abort(signal.reason);
    stopWaiting();
  };
  if (signal.aborted) return;
  signal.addEventListener("abort", onAbort, { once: true });
  const iterator = open(controller.signal)[Symbol.asyncIterator]();
  let finished = false;
  // One timer for the whole stream, not one per item (audio comes in many small chunks): when
  // it fires early it sleeps again for what is left since the item was asked for.
  let askedAt = Date.now();
  /** The consumer holds the last item: its time is not the stream's. */
  let held = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    const check = () => {
      const left = held ? idleMs : askedAt + idleMs - Date.now();
      if (left <= 0) resolve("timeout");
      else timer = setTimeout(check, left);
    };
    timer = setTimeout(check, idleMs);
  });
  try {
    for (;;) {
      askedAt = Date.now();
      held = false;
      const next = await Promise.race([iterator.next(), timedOut, aborted]);
      if (next === "aborted") return;
      if (next === "timeout") {
        const error = new ProviderTimeoutError(`${what} sent nothing for ${idleMs} ms.`);
        controller.abort(error);
        throw error;
      }
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
