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
 * Nor while another call's reply has only just begun to wait (QUIET_MS): callers who finish
 * speaking close together come a few tens of ms apart, and a turn that began just after the
 * others' replies had all started found their bookkeeping ahead of it. At ten calls, whose turns
 * keep ending within ~150 ms of each other, this took the overhead from 10.5 to 6.6 ms at p50
 * (docs/benchmarks.md, twelfth session).
 *
 * Only counts are shared between objects, never a promise: a promise resolved from another
 * object's event would run its continuation in that object's I/O context. Each call's waiting
 * works look again on a timer of their own.
 *
 * Nor does bookkeeping run the moment its turn has sent what it was waiting for: in workerd a
 * WebSocket `send()` or a `fetch()` only queues the message, which is written over later steps
 * of the event loop (a socket's pump waits for the output gate as it stood at the send, then
 * for the write), and a zero timer evidently fires before they have all run. Its work (the held
 * storage writes and their commit, LangGraph's record, the transcript row: a few ms) then ran
 * before the first audio frame had been written, and the frame waited for it: at one call, with
 * bookkeeping put off by a zero timer, the first audio reached the page 2–5 ms later than with
 * AFTER_SEND_MS (docs/benchmarks.md, eleventh session).
 */

import { untilAborted } from "../voice/deadline.ts";

/** A reply waiting longer than this is not waited for: a turn lost without a word can't hold the rest. */
export const STALE_AFTER_MS = 3_000;
/** The longest bookkeeping is put off: a burst of replies starts well within it. */
export const MAX_DEFER_MS = 1_000;
/** How often a waiter looks again while replies are waiting. */
const RECHECK_MS = 10;
/**
 * The least a work waits after it was asked for, so that what its turn has just sent is written
 * first (above). Short beside anything a caller hears: bookkeeping is never on their way.
 */
export const AFTER_SEND_MS = 5;
/** How often waiting replies are looked through for stale ones. */
const SWEEP_MS = 250;
/**
 * Bookkeeping also waits until no other call's reply has begun to wait for this long (above): long
 * enough to span the gaps between close callers' finals, short beside a turn's write hold
 * (MAX_HOLD_MS, write-behind.ts) and anything a caller hears. 50 ms gained no more than 30
 * (docs/benchmarks.md, twelfth session).
 */
export const QUIET_MS = 30;

/** Each waiting reply, by its token: its call and when it began to wait. Module scope: the isolate's. */
const waiting = new Map<symbol, { call: string; since: number }>();
/** How many of `waiting` each call has: a waiter's look is two reads, not a walk through them all. */
const waitingOf = new Map<string, number>();
let sweptAt = 0;
/**
 * The latest reply to begin waiting, and the latest of a call other than that one's: between them
 * they give, for any call, when another call's reply last began to wait (two reads, no walk).
 */
let latestAwait = { call: "", at: Number.NEGATIVE_INFINITY };
let latestOtherAwait = { call: "", at: Number.NEGATIVE_INFINITY };
/**
 * Each call's wait in progress, shared by every work of that call that waits meanwhile (its
 * graph run, its rows, its writes): one timer for them all, which ends no sooner than
 * AFTER_SEND_MS after the latest of them asked. Keyed by call, so only the one object that runs
 * a call ever shares its promise.
 */
interface CallWait {
  done: Promise<void>;
  notBefore: number;
}
const waitOf = new Map<string, CallWait>();

/**
 * The caller of `call` now waits for a reply's first audio; call the returned function once it
 * has started (or never will). Calling it again does nothing.
 */
export function replyAwaited(call: string): () => void {
  const token = Symbol(call);
  const now = Date.now();
  if (latestAwait.call !== call) latestOtherAwait = latestAwait;
  latestAwait = { call, at: now };
  waiting.set(token, { call, since: now });
  waitingOf.set(call, (waitingOf.get(call) ?? 0) + 1);
  return () => forget(token);
}

function forget(token: symbol) {
  const reply = waiting.get(token);
  if (!reply) return;
  waiting.delete(token);
  const left = (waitingOf.get(reply.call) ?? 1) - 1;
  if (left > 0) waitingOf.set(reply.call, left);
  else waitingOf.delete(reply.call);
}

/** Replies of calls other than `call` still waiting for their first audio (stale ones are forgotten). */
export function repliesAwaited(call?: string, now = Date.now()): number {
  if (now - sweptAt >= SWEEP_MS) {
    sweptAt = now;
    for (const [token, reply] of waiting) {
      if (now - reply.since > STALE_AFTER_MS) forget(token);
    }
  }
  return waiting.size - (call === undefined ? 0 : (waitingOf.get(call) ?? 0));
}

/**
 * Resolves once no other call of this isolate waits for its reply's first audio, nor began to
 * within QUIET_MS — never sooner than AFTER_SEND_MS, so what the current turn sent is written
 * first — or after MAX_DEFER_MS (from the first of the call's works to wait), or as soon as
 * `signal` aborts (the turn is over: its bookkeeping is what ends it).
 */
export function afterOtherRepliesStarted(call: string, signal?: AbortSignal): Promise<void> {
  const notBefore = Date.now() + AFTER_SEND_MS;
  let wait = waitOf.get(call);
  if (wait) {
    wait.notBefore = Math.max(wait.notBefore, notBefore);
  } else {
    const started: CallWait = { done: Promise.resolve(), notBefore };
    started.done = untilNoOtherReplyWaits(call, started).finally(() => waitOf.delete(call));
    waitOf.set(call, started);
    wait = started;
  }
  // An aborted turn's wait ends at once: the rejection with the signal's reason is its end.
  const { done } = wait;
  return signal ? untilAborted(done, signal, () => undefined).catch(() => undefined) : done;
}

async function untilNoOtherReplyWaits(call: string, wait: CallWait): Promise<void> {
  const until = Date.now() + MAX_DEFER_MS;
  for (;;) {
    const now = Date.now();
    let delay: number;
    if (now < wait.notBefore) delay = wait.notBefore - now;
    else if (now >= until) return;
    else if (repliesAwaited(call) > 0) delay = Math.min(RECHECK_MS, until - now);
    else {
      const quietAt = lastOtherAwaitAt(call) + QUIET_MS;
      if (now >= quietAt) return;
      delay = Math.min(quietAt - now, until - now);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** When a reply of a call other than `call` last began to wait. */
function lastOtherAwaitAt(call: string): number {
  return latestAwait.call === call ? latestOtherAwait.at : latestAwait.at;
}
