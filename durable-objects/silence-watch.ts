/**
 * The caller's silence in a voice call: after `checkInMs` of it the assistant checks in gently,
 * after `goodbyeMs` (from the same start: the check-in does not restart the clock) it says
 * goodbye and the session ends. Silence is the time since the last activity — the caller spoke
 * or typed, or a reply finished playing; whatever is busy when the deadline comes (a turn
 * thinking, a reply playing) counts as activity.
 *
 * It runs on the session's `silence` deadline (deadlines.ts), never an alarm of its own. Caller
 * speech comes many times a second, so activity moves only a timestamp (written to storage at
 * most once a second); the deadline is set when none is, and moved on lazily when it fires early.
 */
import type { Deadlines } from "./deadlines.ts";
import { type StorageWrites, WRITE_AT_ONCE } from "./write-behind.ts";

export interface SilenceSettings {
  checkInMs: number;
  goodbyeMs: number;
}

export interface SilenceState {
  /** The last activity: the start of the silence. */
  lastActivityAt: number;
  /** The check-in of this silence was said. */
  checkedIn: boolean;
}

export type SilenceAction = "check_in" | "goodbye" | "wait";

/** What a silence calls for at `now`, and when to look again. Pure. */
export function silenceStep(
  state: SilenceState,
  now: number,
  settings: SilenceSettings,
): { action: SilenceAction; nextAt: number | undefined } {
  const checkInAt = state.lastActivityAt + settings.checkInMs;
  const goodbyeAt = state.lastActivityAt + settings.goodbyeMs;
  if (now >= goodbyeAt) return { action: "goodbye", nextAt: undefined };
  if (!state.checkedIn && now >= checkInAt) return { action: "check_in", nextAt: goodbyeAt };
  return { action: "wait", nextAt: state.checkedIn ? goodbyeAt : checkInAt };
}

const KEY = "silence";
/** Activity written to storage at most this often (it is also kept in memory). */
const PERSIST_EVERY_MS = 1_000;

export class SilenceWatch {
  readonly #deadlines: Deadlines;
  readonly #kv: SyncKvStorage;
  readonly #writes: StorageWrites;
  readonly #settings: SilenceSettings;
  #state: SilenceState | undefined;
  #persistedAt = 0;

  constructor(deps: {
    deadlines: Deadlines;
    kv: SyncKvStorage;
    settings: SilenceSettings;
    writes?: StorageWrites;
  }) {
    this.#deadlines = deps.deadlines;
    this.#kv = deps.kv;
    this.#settings = deps.settings;
    this.#writes = deps.writes ?? WRITE_AT_ONCE;
  }

  /** Watching: a voice call whose page can play audio, not paused. */
  get watching(): boolean {
    return this.#deadlines.at("silence") !== undefined;
  }

  /** Starts (or restarts) watching: the page can play audio, a transfer ended, the caller is back. */
  async start(now = Date.now()) {
    this.#save({ lastActivityAt: now, checkedIn: false }, true);
    await this.#deadlines.set("silence", now + this.#settings.checkInMs);
  }

  /**
   * The caller spoke or typed, or a reply finished: the silence starts again. Cheap enough for
   * every interim transcript: no storage write unless a second has passed, and no deadline
   * write unless the check-in was already said.
   */
  async activity(now = Date.now()) {
    if (!this.watching) return;
    const wasCheckedIn = this.#current?.checkedIn ?? false;
    this.#save({ lastActivityAt: now, checkedIn: false }, wasCheckedIn);
    if (wasCheckedIn) await this.#deadlines.set("silence", now + this.#settings.checkInMs);
  }

  /** A transfer, a lost connection, the end of the call: nothing is said until `start()`. */
  async pause() {
    await this.#deadlines.clear("silence");
  }

  /**
   * The `silence` deadline passed (already taken off by `takeDue`). `busy` when a turn or a
   * reply is under way: that is activity, not silence. Returns what to say, if anything.
   */
  async due(busy: boolean, now = Date.now()): Promise<SilenceAction> {
    if (busy) {
      await this.start(now);
      return "wait";
    }
    // Evicted since the last write: the stored state, or else the deadline was for a check-in.
    const state = this.#current ?? {
      lastActivityAt: now - this.#settings.checkInMs,
      checkedIn: false,
    };
    const { action, nextAt } = silenceStep(state, now, this.#settings);
    if (action === "check_in") this.#save({ ...state, checkedIn: true }, true);
    if (nextAt !== undefined) await this.#deadlines.set("silence", nextAt);
    return action;
  }

  /** Activity since `since`: the caller spoke over the goodbye. */
  activeSince(since: number): boolean {
    return (this.#current?.lastActivityAt ?? 0) > since;
  }

  get #current(): SilenceState | undefined {
    // Unknown, nothing of it can be held yet: saving sets it first.
    this.#state ??= this.#kv.get<SilenceState>(KEY);
    return this.#state;
  }

  #save(state: SilenceState, force: boolean) {
    this.#state = state;
    if (!force && state.lastActivityAt - this.#persistedAt < PERSIST_EVERY_MS) return;
    this.#persistedAt = state.lastActivityAt;
    this.#writes.write(() => this.#kv.put(KEY, state));
  }
}
