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
