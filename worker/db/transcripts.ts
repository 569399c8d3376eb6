import { and, eq, sql } from "drizzle-orm";
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

/** Idempotent on (session, seq): a retried write after a lost response adds nothing. */
export async function recordTranscriptTurn(db: Database, turn: TranscriptTurn) {
  await db
    .insert(transcriptTurns)
    .values({
      sessionId: turn.sessionId,
      seq: turn.seq,
      role: turn.role,
      text: turn.text,
      toolCalls: turn.toolCalls ?? null,
      metrics: turn.metrics ?? null,
    })
    .onConflictDoNothing();
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
