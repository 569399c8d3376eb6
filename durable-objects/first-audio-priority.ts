/**
 * Replies still waiting for their first audio, counted across every call this isolate runs, so
 * that the bookkeeping a turn does once its own reply has started or its model call has ended
 * (LangGraph's run and checkpoint, the transcript rows, the held storage writes) waits until no
 * other call is still waiting for its reply. A call never waits for its own: its turn's
 * bookkeeping may be what starts it (a tool the graph runs), and its next turn waits for it anyway.
 *
 * The isolate's one thread runs every object's work in the order it comes. When many callers
 * finish speaking at once, the first reply to start used to run its bookkeeping while the
 * others were still between their final transcript and their first audio, and every one of
 * them waited behind it: at 50 calls the burst's first audio came at p50 ~50 / p95 ~250 ms, and
 * with the bookkeeping put off until the burst had started, at half that (docs/benchmarks.md).
 * Nothing is dropped or reordered within a call: its own next turn still waits for its last.
 *
 * Only a count is shared between objects, never a promise: a promise resolved from another
 * object's event would run its continuation in that object's I/O context. Each waiter looks
 * again on a timer of its own.
 */

/** A reply waiting longer than this is not waited for: a turn lost without a word can't hold the rest. */
export const STALE_AFTER_MS = 3_000;
/** The longest bookkeeping is put off: a burst of replies starts well within it. */
export const MAX_DEFER_MS = 1_000;
/** How often a waiter looks again while replies are waiting. */
const RECHECK_MS = 10;

/** Each waiting reply, by its token: its call and when it began to wait. Module scope: the isolate's. */
const waiting = new Map<symbol, { call: string; since: number }>();

/**
 * The caller of `call` now waits for a reply's first audio; call the returned function once it
 * has started (or never will). Calling it again does nothing.
 */
export function replyAwaited(call: string): () => void {
  const token = Symbol(call);
  waiting.set(token, { call, since: Date.now() });
  return () => {
    waiting.delete(token);
  };
}

/** Replies of calls other than `call` still waiting for their first audio (stale ones are forgotten). */
export function repliesAwaited(call?: string, now = Date.now()): number {
  let count = 0;
  for (const [token, reply] of waiting) {
    if (now - reply.since > STALE_AFTER_MS) waiting.delete(token);
    else if (reply.call !== call) count += 1;
  }
  return count;
}

/**
 * Resolves once no other call of this isolate waits for its reply's first audio — never sooner
 * than the next macrotask, so what the current task sent leaves first — or after `maxMs`, or as
 * soon as `signal` aborts (the turn is over: its bookkeeping is what ends it).
 */
export async function afterOtherRepliesStarted(
  call: string,
  signal?: AbortSignal,
  maxMs = MAX_DEFER_MS,
): Promise<void> {
  const until = Date.now() + maxMs;
  let delay = 0;
  while (!signal?.aborted) {
    await sleep(delay, signal);
    if (signal?.aborted || repliesAwaited(call) === 0 || Date.now() >= until) return;
    delay = Math.min(RECHECK_MS, until - Date.now());
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const woken = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", woken);
      resolve();
    }, ms);
    signal?.addEventListener("abort", woken, { once: true });
  });
}
