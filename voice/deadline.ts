/**
 * Deadlines on provider streams: a stream that goes quiet past its deadline is abandoned with a
 * `ProviderTimeoutError` instead of keeping the turn (and the caller) waiting forever.
 */
import { ProviderTimeoutError } from "./errors.ts";

/**
 * Runs the stream `run(signal, onItem)` makes, handing each of its items to `onItem` as it comes,
 * and fails with a `ProviderTimeoutError` when the next one (the first included: connecting
 * counts) takes longer than `idleMs`. The stream's own signal is aborted then, with that error as
 * its reason, so the provider adapter can tell a deadline from a barge-in. Resolves when the
 * stream ends; ends quietly when `signal` aborts, and no item is handed on after that. An error
 * thrown by `onItem` ends the stream and is this call's error.
 *
 * The stream must end (or throw) once its signal aborts — every provider adapter here does.
 * Items are pushed, not iterated: audio comes in many small pieces (Aura's are 20 ms), and an
 * async iterator per layer cost several promises and microtasks per piece. One timer serves the
 * whole stream: when it fires early it sleeps again for what is left since the last item.
 */
export async function withIdleDeadline<T>(
  run: (signal: AbortSignal, onItem: (item: T) => void) => Promise<void>,
  onItem: (item: T) => void,
  idleMs: number,
  signal: AbortSignal,
  what: string,
): Promise<void> {
  if (signal.aborted) return;
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  let failure: { error: unknown } | undefined;
  let lastItemAt = Date.now();
  const check = () => {
    if (signal.aborted) return;
    const left = lastItemAt + idleMs - Date.now();
    if (left > 0) {
      timer = setTimeout(check, left);
      return;
    }
    const timedOut = new ProviderTimeoutError(`${what} sent nothing for ${idleMs} ms.`);
    failure ??= { error: timedOut };
    controller.abort(timedOut);
  };
  let timer = setTimeout(check, idleMs);
  const take = (item: T) => {
    if (failure || signal.aborted) return;
    lastItemAt = Date.now();
    try {
      onItem(item);
    } catch (error) {
      failure = { error };
      controller.abort(error);
    }
  };
  try {
    await run(controller.signal, take);
  } catch (error) {
    if (!failure && !signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
  if (failure) throw failure.error;
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
