/**
 * The call this browser can pick up again. Its resume token (rotated by the server on every
 * resume: only the newest is kept) is kept for the page's origin in localStorage, so a closed
 * tab is not a lost call; with it, when the page last knew the call alive, the resume window,
 * and whether the caller had muted the microphone. Never the PIN.
 *
 * The tab that holds the call marks itself in sessionStorage: a reload there resumes at once,
 * while another tab — or the page reopened after its tab was closed — offers to continue.
 */
import * as z from "zod/mini";

export interface StoredCall {
  sessionId: string;
  token: string;
  /** When the page last knew the call alive (ms since the epoch). */
  savedAt: number;
  /** How long after a disconnect the server still resumes the call. */
  windowSeconds: number;
  /** The caller had muted the microphone. */
  muted: boolean;
}

/** What opening the page should do about a stored call. */
export type Opening =
  | { kind: "resume"; call: StoredCall }
  | { kind: "offer"; call: StoredCall }
  | { kind: "none" };

export const STORAGE_KEY = "convonet.session";
const TAB_KEY = "convonet.tab";
/** What another script on the origin (or an older page) may have left: checked, not trusted. */
const StoredCallSchema = z.object({
  sessionId: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  token: z.string().check(z.regex(/^[A-Za-z0-9_-]{20,128}$/)),
  savedAt: z.optional(z.number()),
  windowSeconds: z.optional(z.number()),
  muted: z.optional(z.boolean()),
});

/** The parts of the Web Storage API used here (tests pass a map). */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export class CallStore {
  readonly #local: () => KeyValueStorage;
  readonly #tab: () => KeyValueStorage;
  readonly #now: () => number;
  /** The token this page saved last, if any. */
  #saved: string | undefined;

  /** Storage is looked up when used: reading `localStorage` itself can throw (blocked cookies). */
  constructor(
    local: () => KeyValueStorage = () => localStorage,
    tab: () => KeyValueStorage = () => sessionStorage,
    now: () => number = Date.now,
  ) {
    this.#local = local;
    this.#tab = tab;
    this.#now = now;
  }

  /** The stored call, if it is well formed. */
  get call(): StoredCall | undefined {
    const raw = attempt(() => this.#local().getItem(STORAGE_KEY));
    if (!raw) return undefined;
    const parsed = StoredCallSchema.safeParse(attempt(() => JSON.parse(raw)));
    if (!parsed.success) return undefined;
    const { savedAt, windowSeconds, muted, ...ids } = parsed.data;
    return {
      ...ids,
      savedAt: savedAt ?? 0,
      windowSeconds: windowSeconds ?? 0,
      muted: muted ?? false,
    };
  }

  /**
   * On opening the page: this tab's own call resumes (a reload); another tab's, or a closed
   * tab's, is offered while its window lasts; past it, the page signs in afresh.
   */
  opening(): Opening {
    const call = this.call;
    if (!call) return { kind: "none" };
    if (attempt(() => this.#tab().getItem(TAB_KEY)) === call.sessionId) {
      return { kind: "resume", call };
    }
    if (this.#now() - call.savedAt > call.windowSeconds * 1000) {
      this.forget();
      return { kind: "none" };
    }
    return { kind: "offer", call };
  }

  /** The server's newest token for this call; this tab holds the call from now on. */
  save(sessionId: string, token: string, windowSeconds: number) {
    const muted = this.call?.sessionId === sessionId && this.call.muted;
    this.#write({ sessionId, token, savedAt: this.#now(), windowSeconds, muted });
    this.#saved = token;
    attempt(() => this.#tab().setItem(TAB_KEY, sessionId));
  }

  /** The call is alive now (the window counts from the moment the page went away). */
  touch() {
    const call = this.call;
    if (call) this.#write({ ...call, savedAt: this.#now() });
  }

  setMuted(muted: boolean) {
    const call = this.call;
    if (call) this.#write({ ...call, muted });
  }

  /**
   * This page is done with the call. What is stored goes too — unless another tab has taken the
   * call over since (its newer token is there): that tab still needs it.
   */
  forget() {
    const stored = this.call;
    if (!(this.#saved && stored && stored.token !== this.#saved)) {
      attempt(() => this.#local().removeItem(STORAGE_KEY));
    }
    this.#saved = undefined;
    attempt(() => this.#tab().removeItem(TAB_KEY));
  }

  #write(call: StoredCall) {
    // Storage unavailable: the call goes on, but cannot be picked up after the tab closes.
    attempt(() => this.#local().setItem(STORAGE_KEY, JSON.stringify(call)));
  }
}

function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
