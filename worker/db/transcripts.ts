import { and, eq, sql } from "drizzle-orm";
import { log } from "../log.ts";
import type { Database } from "./client.ts";
import { transcriptTurns } from "./schema.ts";

export interface TranscriptTurn {
  sessionId: string;
  seq: number;
  role: "user" | "assistant" | "tool" | "system";
  text: string;
  /** The tools the assistant called in this turn, with the model's arguments. */
  toolCalls?: { name: string; input: unknown; ok: boolean }[];
  metrics?: Record<string, number | null | boolean>;
}

/** Tries of one transcript write before its loss is logged. */
export const TRANSCRIPT_WRITE_ATTEMPTS = 4;
/** Wait before the first retry, doubled after each: 0.25 + 0.5 + 1 s in all. */
export const TRANSCRIPT_RETRY_BASE_MS = 250;

/**
 * Writes a turn of the transcript, retrying a few times with backoff while Postgres is out of
 * reach; a turn still unwritten is logged as `transcript_lost` (no text: it may be personal).
 * Never rejects — the call goes on without its row — and says whether the row is written.
 * Idempotent on (session, seq): a retried write after a lost response adds nothing.
 */
export async function recordTranscriptTurn(db: Database, turn: TranscriptTurn): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await insertTranscriptTurn(db, turn);
      return true;
    } catch (error) {
      if (attempt >= TRANSCRIPT_WRITE_ATTEMPTS || !isRetryable(error)) {
        log.error("transcripts", "transcript_lost", {
          session: turn.sessionId,
          seq: turn.seq,
          role: turn.role,
          attempts: attempt,
          error,
        });
        return false;
      }
      const delayMs = TRANSCRIPT_RETRY_BASE_MS * 2 ** (attempt - 1);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/**
 * A connection that failed or a server that is starting, shutting down or short of resources
 * may do better later; an error Postgres answered about the row itself (a constraint) will not.
 */
function isRetryable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return /^(08|40|53|57)/.test(code);
    e = (e as { cause?: unknown }).cause;
  }
  return true;
}

async function insertTranscriptTurn(db: Database, turn: TranscriptTurn) {
  let insert = preparedInserts.get(db);
  if (!insert) {
    insert = prepareInsert(db);
    preparedInserts.set(db, insert);
  }
  await insert.execute({
    sessionId: turn.sessionId,
    seq: turn.seq,
    role: turn.role,
    text: turn.text,
    toolCalls: turn.toolCalls === undefined ? null : JSON.stringify(turn.toolCalls),
    metrics: turn.metrics === undefined ? null : JSON.stringify(turn.metrics),
  });
}

/**
 * The insert of every turn, its SQL built once per database (drizzle otherwise builds it for
 * each query). The JSON columns' placeholders are cast in SQL and given their text: a jsonb
 * placeholder would JSON-encode a missing value as the JSON `null`, not SQL's NULL.
 */
const preparedInserts = new WeakMap<Database, ReturnType<typeof prepareInsert>>();

function prepareInsert(db: Database) {
  return db
    .insert(transcriptTurns)
    .values({
      sessionId: sql.placeholder("sessionId"),
      seq: sql.placeholder("seq"),
      role: sql.placeholder("role"),
      text: sql.placeholder("text"),
      toolCalls: sql`${sql.placeholder("toolCalls")}::jsonb`,
      metrics: sql`${sql.placeholder("metrics")}::jsonb`,
    })
    .onConflictDoNothing()
    .prepare("insert_transcript_turn");
}

/** Merges figures into a turn's metrics (e.g. first audio played, which the page reports later). */
export async function addTranscriptTurnMetrics(
  db: Database,
  sessionId: string,
  seq: number,
  metrics: Record<string, number>,
) {
  await db
    .update(transcriptTurns)
    .set({
      metrics: sql`coalesce(${transcriptTurns.metrics}, '{}'::jsonb) || ${JSON.stringify(metrics)}::jsonb`,
    })
    .where(and(eq(transcriptTurns.sessionId, sessionId), eq(transcriptTurns.seq, seq)));
}

/** Replaces a turn's text: what the caller really heard of a reply cut off, once the page said. */
export async function reviseTranscriptTurnText(
  db: Database,
  sessionId: string,
  seq: number,
  text: string,
) {
  await db
    .update(transcriptTurns)
    .set({ text })
    .where(and(eq(transcriptTurns.sessionId, sessionId), eq(transcriptTurns.seq, seq)));
}
