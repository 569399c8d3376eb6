/**
 * The CallSession's own state, kept in its SQLite-backed storage (synchronous KV API) so it
 * survives hibernation and eviction. No Redis: the object is the session.
 */
import type { TranscriptEntry } from "../protocol/messages.ts";
import { toHex } from "../worker/pin-hash.ts";

export interface SessionUser {
  id: string;
  name: string;
  /** Absent in sessions signed in before it was kept. */
  email?: string;
  timezone: string;
  teams: { id: string; name: string; role: string }[];
}

export interface SessionRecord {
  sessionId: string;
  user: SessionUser;
  signedInAt: number;
  /** SHA-256 of the current resume token; the token itself is never stored. */
  resumeTokenHash: string;
  /** Set while no socket is connected; resuming is allowed until this plus the window. */
  disconnectedAt: number | null;
  /** Last heartbeat with the caller connected: counts as the disconnect if the runtime stopped. */
  lastSeenAt?: number;
}

/** Kept to the most recent entries: the page shows them after a resume. */
export const MAX_STORED_TRANSCRIPT = 200;

const KEYS = {
  session: "session",
  transcript: "transcript",
  failedPins: "failedPins",
  greeted: "greeted",
  turnSeq: "turnSeq",
  turnInFlight: "turnInFlight",
} as const;

/**
 * The turn being answered. The model's history is checkpointed when a turn ends, so a turn the
 * runtime stops under leaves only this behind: what the caller said.
 */
export interface TurnInFlight {
  turnId: string;
  texts: string[];
  at: number;
}

export class SessionStore {
  readonly #kv: SyncKvStorage;

  constructor(kv: SyncKvStorage) {
    this.#kv = kv;
  }

  get session(): SessionRecord | undefined {
    return this.#kv.get<SessionRecord>(KEYS.session);
  }

  saveSession(record: SessionRecord) {
    this.#kv.put(KEYS.session, record);
  }

  get failedPins(): number {
    return this.#kv.get<number>(KEYS.failedPins) ?? 0;
  }

  set failedPins(count: number) {
    this.#kv.put(KEYS.failedPins, count);
  }

  get turnInFlight(): TurnInFlight | undefined {
    return this.#kv.get<TurnInFlight>(KEYS.turnInFlight);
  }

  set turnInFlight(turn: TurnInFlight | undefined) {
    if (turn) this.#kv.put(KEYS.turnInFlight, turn);
    else this.#kv.delete(KEYS.turnInFlight);
  }

  /** The caller was greeted aloud (once per session, not again on resume). */
  get greeted(): boolean {
    return this.#kv.get<boolean>(KEYS.greeted) ?? false;
  }

  set greeted(value: boolean) {
    this.#kv.put(KEYS.greeted, value);
  }

  get transcript(): TranscriptEntry[] {
    return this.#kv.get<TranscriptEntry[]>(KEYS.transcript) ?? [];
  }

  /** Reserves `count` consecutive transcript sequence numbers; returns the first. */
  nextTurnSeq(count: number): number {
    const first = (this.#kv.get<number>(KEYS.turnSeq) ?? 0) + 1;
    this.#kv.put(KEYS.turnSeq, first + count - 1);
    return first;
  }

  appendTranscript(entry: TranscriptEntry) {
    const entries = this.transcript;
    entries.push(entry);
    this.#kv.put(KEYS.transcript, entries.slice(-MAX_STORED_TRANSCRIPT));
  }

  /** Replaces the text of a stored entry (a cut-off reply, once the page said what was heard). */
  reviseTranscript(id: string, text: string) {
    const entries = this.transcript;
    const entry = entries.find((e) => e.id === id);
    if (!entry) return;
    entry.text = text;
    this.#kv.put(KEYS.transcript, entries);
  }
}

export function newResumeToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

export async function hashResumeToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return toHex(new Uint8Array(digest));
}

/** Constant-time comparison of two hex digests. */
export function digestsEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
