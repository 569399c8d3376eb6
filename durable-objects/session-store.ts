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
  /** Sessions stored before entries had keys of their own kept the whole list here. */
  legacyTranscript: "transcript",
  /** Entries appended so far (also the number in the newest entry's key). */
  transcriptCount: "transcriptCount",
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

/**
 * Each transcript entry under a key of its own, numbered in order: appending writes one small
 * value, where rewriting the whole list (up to MAX_STORED_TRANSCRIPT entries) cost a
 * serialisation of all of it two or three times per turn.
 */
const TRANSCRIPT_PREFIX = "transcript:";
const entryKey = (n: number) => `${TRANSCRIPT_PREFIX}${String(n).padStart(10, "0")}`;

export class SessionStore {
  readonly #kv: SyncKvStorage;
  /** Read once per object: only this store writes the count. */
  #transcriptCount: number | undefined;

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
    this.#count();
    return [...this.#kv.list<TranscriptEntry>({ prefix: TRANSCRIPT_PREFIX })].map(([, e]) => e);
  }

  /** Reserves `count` consecutive transcript sequence numbers; returns the first. */
  nextTurnSeq(count: number): number {
    const first = (this.#kv.get<number>(KEYS.turnSeq) ?? 0) + 1;
    this.#kv.put(KEYS.turnSeq, first + count - 1);
    return first;
  }

  appendTranscript(entry: TranscriptEntry) {
    const n = this.#count() + 1;
    this.#kv.put(entryKey(n), entry);
    this.#kv.put(KEYS.transcriptCount, n);
    this.#transcriptCount = n;
    if (n > MAX_STORED_TRANSCRIPT) this.#kv.delete(entryKey(n - MAX_STORED_TRANSCRIPT));
  }

  /** Replaces the text of a stored entry (a cut-off reply, once the page said what was heard). */
  reviseTranscript(id: string, text: string) {
    this.#count();
    // Newest first: the entry revised is one of the last few.
    for (const [key, entry] of this.#kv.list<TranscriptEntry>({
      prefix: TRANSCRIPT_PREFIX,
      reverse: true,
    })) {
      if (entry.id !== id) continue;
      this.#kv.put(key, { ...entry, text });
      return;
    }
  }

  /** The storage was wiped (`deleteAll`): read it again next time. */
  forget() {
    this.#transcriptCount = undefined;
  }

  /** The entries appended so far; a session stored as one list is moved to keys first. */
  #count(): number {
    if (this.#transcriptCount !== undefined) return this.#transcriptCount;
    let count = this.#kv.get<number>(KEYS.transcriptCount) ?? 0;
    const legacy = this.#kv.get<TranscriptEntry[]>(KEYS.legacyTranscript);
    if (legacy) {
      for (const entry of legacy) this.#kv.put(entryKey(++count), entry);
      this.#kv.put(KEYS.transcriptCount, count);
      this.#kv.delete(KEYS.legacyTranscript);
    }
    this.#transcriptCount = count;
    return count;
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
