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
 * Writes rows of the transcript in one statement (a turn's two rows: the caller's words and the
 * reply; each query is a round trip and about a millisecond of the Worker's CPU), retrying a few
 * times with backoff while Postgres is out of reach; rows still unwritten are each logged as
 * `transcript_lost` (no text: it may be personal). Never rejects — the call goes on without its
 * rows — and says whether they are written. Idempotent on (session, seq): a retried write after
 * a lost response adds nothing.
 */
export async function recordTranscriptTurns(
  db: Database,
  turns: readonly TranscriptTurn[],
): Promise<boolean> {
  if (turns.length === 0) return true;
  for (let attempt = 1; ; attempt++) {
    try {
      await insertTranscriptTurns(db, turns);
      return true;
    } catch (error) {
      if (attempt >= TRANSCRIPT_WRITE_ATTEMPTS || !isRetryable(error)) {
        for (const turn of turns)
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

async function insertTranscriptTurns(db: Database, turns: readonly TranscriptTurn[]) {
  let inserts = preparedInserts.get(db);
  if (!inserts) {
    inserts = new Map();
    preparedInserts.set(db, inserts);
  }
  let insert = inserts.get(turns.length);
  if (!insert) {
    insert = prepareInsert(db, turns.length);
    inserts.set(turns.length, insert);
  }
  const values: Record<string, unknown> = {};
  turns.forEach((turn, i) => {
    values[`sessionId${i}`] = turn.sessionId;
    values[`seq${i}`] = turn.seq;
    values[`role${i}`] = turn.role;
    values[`text${i}`] = turn.text;
    values[`toolCalls${i}`] = turn.toolCalls === undefined ? null : JSON.stringify(turn.toolCalls);
    values[`metrics${i}`] = turn.metrics === undefined ? null : JSON.stringify(turn.metrics);
  });
  await insert.execute(values);
}

/**
 * The insert of a number of rows, its SQL built once per database and row count (drizzle
 * otherwise builds it for each query). The JSON columns' placeholders are cast in SQL and given
 * their text: a jsonb placeholder would JSON-encode a missing value as the JSON `null`, not
 * SQL's NULL.
 */
const preparedInserts = new WeakMap<Database, Map<number, ReturnType<typeof prepareInsert>>>();

function prepareInsert(db: Database, rows: number) {
  return db
    .insert(transcriptTurns)
    .values(
      Array.from({ length: rows }, (_, i) => ({
        sessionId: sql.placeholder(`sessionId${i}`),
        seq: sql.placeholder(`seq${i}`),
        role: sql.placeholder(`role${i}`),
        text: sql.placeholder(`text${i}`),
        toolCalls: sql`${sql.placeholder(`toolCalls${i}`)}::jsonb`,
        metrics: sql`${sql.placeholder(`metrics${i}`)}::jsonb`,
      })),
    )
    .onConflictDoNothing()
    .prepare(`insert_transcript_turns_${rows}`);
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
