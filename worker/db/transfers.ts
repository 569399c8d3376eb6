import { and, asc, eq, sql } from "drizzle-orm";
import type { TransferOutcome } from "../../protocol/messages.ts";
import type { Transfer } from "../../transfer/state.ts";
import type { Database } from "./client.ts";
import { humanAgents, transfers } from "./schema.ts";

export interface DepartmentAgent {
  id: string;
  name: string;
  department: string;
  extension: string;
}

/** An active human agent of the department (case-insensitive), the first by name. */
export async function findDepartmentAgent(
  db: Database,
  department: string,
): Promise<DepartmentAgent | undefined> {
  const [agent] = await db
    .select({
      id: humanAgents.id,
      name: humanAgents.name,
      department: humanAgents.department,
      extension: humanAgents.sipExtension,
    })
    .from(humanAgents)
    .where(
      and(
        eq(humanAgents.active, true),
        sql`lower(${humanAgents.department}) = ${department.toLowerCase()}`,
      ),
    )
    .orderBy(asc(humanAgents.name))
    .limit(1);
  return agent;
}

export interface TransferContext {
  sessionId: string;
  userId: string;
  caller: { name: string; email: string; teams: { name: string; role: string }[] };
  transcript: { role: string; text: string; at: number }[];
  summary: string;
}

const at = (ms: number | null) => (ms === null ? null : new Date(ms));

/** Who ended a connected call, by its outcome: a dropped line was neither side. */
const ENDED_BY: Partial<Record<TransferOutcome, string>> = {
  agent_ended: "agent",
  caller_ended: "caller",
  caller_hung_up: "caller",
  dropped: "line",
};

/** The row as the state machine has it: written on every change, idempotent on the id. */
function stateColumns(transfer: Transfer) {
  return {
    status: transfer.state,
    providerCallId: transfer.callSid,
    ringingAt: at(transfer.ringingAt),
    answeredAt: at(transfer.connectedAt),
    endedAt: at(transfer.endedAt),
    failureReason: transfer.state === "failed" ? transfer.outcome : null,
    endedBy:
      transfer.state === "ended" && transfer.outcome ? (ENDED_BY[transfer.outcome] ?? null) : null,
    updatedAt: new Date(),
  };
}

/** Creates the row when the transfer is requested, with everything the human will read. */
export async function insertTransfer(db: Database, transfer: Transfer, context: TransferContext) {
  await db
    .insert(transfers)
    .values({
      id: transfer.id,
      sessionId: context.sessionId,
      userId: context.userId,
      humanAgentId: transfer.agent?.id ?? null,
      department: transfer.department,
      extension: transfer.extension,
      reason: transfer.reason,
      requestedAt: new Date(transfer.requestedAt),
      caller: context.caller,
      transcript: context.transcript,
      summary: context.summary,
      ...stateColumns(transfer),
    })
    .onConflictDoNothing();
}

export async function updateTransferState(db: Database, transfer: Transfer) {
  await db.update(transfers).set(stateColumns(transfer)).where(eq(transfers.id, transfer.id));
}

export async function updateTransferSummary(db: Database, id: string, summary: string) {
  await db.update(transfers).set({ summary, updatedAt: new Date() }).where(eq(transfers.id, id));
}
