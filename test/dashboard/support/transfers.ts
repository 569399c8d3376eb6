/**
 * Transfers as the transfer (issue 8) writes them: a caller's session and a `transfers` row
 * with the caller's profile, reason, summary and transcript. Written straight to Postgres.
 */
import { randomBytes } from "node:crypto";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { callSessions, transfers } from "../../../worker/db/schema.ts";

export const ALICE_ID = "00000000-0000-4000-8000-00000000a11c";

export interface SeededTransfer {
  sessionId: string;
  summary: string;
  reason: string;
}

export async function seedTransfer(
  db: PgDatabase<PgQueryResultHKT>,
  options: {
    userId: string;
    department: string;
    extension: string;
    callerName: string;
    email: string;
  },
): Promise<SeededTransfer> {
  const sessionId = randomBytes(32).toString("hex");
  const marker = sessionId.slice(0, 6);
  const reason = "Wants a refund for a double charge";
  const summary = `The caller was charged twice for the March invoice (${marker}) and wants one charge refunded. The assistant could not issue refunds, so it is handing over.`;
  await db.insert(callSessions).values({ id: sessionId, userId: options.userId });
  await db.insert(transfers).values({
    sessionId,
    userId: options.userId,
    department: options.department,
    extension: options.extension,
    reason,
    status: "ringing",
    summary,
    caller: {
      name: options.callerName,
      email: options.email,
      teams: [
        { name: "Operations", role: "owner" },
        { name: "Marketing", role: "member" },
      ],
    },
    transcript: [
      { role: "user", text: "I was charged twice for March.", at: Date.now() - 60_000 },
      {
        role: "assistant",
        text: "I see two charges of 49 dollars on March 3rd.",
        at: Date.now() - 50_000,
      },
      { role: "user", text: "Can I talk to a person about a refund?", at: Date.now() - 40_000 },
    ],
  });
  return { sessionId, summary, reason };
}
