/** What Postgres holds of a call's transcript, as the tests compare it. */
import { eq } from "drizzle-orm";
import { transcriptTurns } from "../../../worker/db/schema.ts";
import { db } from "./users.ts";

/** The call's transcript rows in order, each as "role: text". */
export async function storedTurns(sessionId: string): Promise<string[]> {
  const rows = await db()
    .select({ role: transcriptTurns.role, text: transcriptTurns.text })
    .from(transcriptTurns)
    .where(eq(transcriptTurns.sessionId, sessionId))
    .orderBy(transcriptTurns.seq);
  return rows.map((r) => `${r.role}: ${r.text}`);
}
