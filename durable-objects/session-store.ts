/**
 * The CallSession's own state, kept in its SQLite-backed storage (synchronous KV API) so it
 * survives hibernation and eviction. No Redis: the object is the session.
 */
import type { TranscriptEntry } from "../protocol/messages.ts";
import { toHex } from "../worker/pin-hash.ts";
import { type StorageWrites, WRITE_AT_ONCE } from "./write-behind.ts";

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
  readonly #writes: StorageWrites;
  /** Values written while writes are held (write-behind.ts): what a read must see meanwhile. */
  readonly #held = new Map<string, { value: unknown }>();
  /**
   * Values read from storage or written to it: only this store writes its keys, and each read
   * from storage is a read transaction and a deserialisation (a turn read the session record
   * two or three times, and its turn number just after the last turn wrote it). Frozen, as
   * every reader shares them.
   */
  readonly #readCache = new Map<string, { value: unknown }>();
  /** Read once per object: only this store writes the count. */
  #transcriptCount: number | undefined;

  constructor(kv: SyncKvStorage, writes: StorageWrites = WRITE_AT_ONCE) {
    this.#kv = kv;
    this.#writes = writes;
  }

  get session(): SessionRecord | undefined {
    return this.#read<SessionRecord>(KEYS.session);
  }

  saveSession(record: SessionRecord) {
    this.#put(KEYS.session, record);
  }

  get failedPins(): number {
    return this.#read<number>(KEYS.failedPins) ?? 0;
  }

  set failedPins(count: number) {
    this.#put(KEYS.failedPins, count);
  }

  get turnInFlight(): TurnInFlight | undefined {
    return this.#read<TurnInFlight>(KEYS.turnInFlight);
  }

  set turnInFlight(turn: TurnInFlight | undefined) {
    this.#put(KEYS.turnInFlight, turn);
  }

  /** The caller was greeted aloud (once per session, not again on resume). */
  get greeted(): boolean {
    return this.#read<boolean>(KEYS.greeted) ?? false;
  }

  set greeted(value: boolean) {
    this.#put(KEYS.greeted, value);
  }

  get transcript(): TranscriptEntry[] {
    this.#count();
    this.#writes.flush();
    return [...this.#kv.list<TranscriptEntry>({ prefix: TRANSCRIPT_PREFIX })].map(([, e]) => e);
  }

  /** Reserves `count` consecutive transcript sequence numbers; returns the first. */
  nextTurnSeq(count: number): number {
    const first = (this.#read<number>(KEYS.turnSeq) ?? 0) + 1;
    this.#put(KEYS.turnSeq, first + count - 1);
    return first;
  }

  appendTranscript(entry: TranscriptEntry) {
    const n = this.#count() + 1;
    this.#transcriptCount = n;
    this.#writes.write(() => {
      this.#kv.put(entryKey(n), entry);
      this.#kv.put(KEYS.transcriptCount, n);
      if (n > MAX_STORED_TRANSCRIPT) this.#kv.delete(entryKey(n - MAX_STORED_TRANSCRIPT));
    });
  }

  /** Replaces the text of a stored entry (a cut-off reply, once the page said what was heard). */
  reviseTranscript(id: string, text: string) {
    this.#count();
    this.#writes.flush();
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
    this.#held.clear();
    this.#readCache.clear();
  }

  #read<T>(key: string): T | undefined {
    const known = this.#held.get(key) ?? this.#readCache.get(key);
    if (known) return known.value as T | undefined;
    const value = deepFreeze(this.#kv.get<T>(key));
    this.#readCache.set(key, { value });
    return value;
  }

  /** Writes `value` (undefined: deletes the key), or holds it, readable meanwhile. */
  #put(key: string, value: unknown) {
    // Kept once written: a failed write leaves storage, not this copy, the truth.
    this.#readCache.delete(key);
    const entry = { value: deepFreeze(value) };
    this.#held.set(key, entry);
    this.#writes.write(() => {
      try {
        if (value === undefined) this.#kv.delete(key);
        else this.#kv.put(key, value);
        this.#readCache.set(key, entry);
      } finally {
        if (this.#held.get(key) === entry) this.#held.delete(key);
      }
    });
  }

  /** The entries appended so far; a session stored as one list is moved to keys first. */
  #count(): number {
    // Unknown, nothing of the transcript can be held yet: appending sets the count first.
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

function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  for (const inner of Object.values(value)) deepFreeze(inner);
  return Object.freeze(value);
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
