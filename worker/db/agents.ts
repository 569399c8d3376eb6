/**
 * The agent dashboard's queries: sign-in, sessions, the context of a transferred call and the
 * call log. Each is one statement (one round trip over Neon's HTTP driver).
 */
import { and, desc, eq, gt, isNull, or, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { agentCalls, agentSessions, humanAgents, transfers } from "./schema.ts";

export interface DashboardAgent {
  id: string;
  name: string;
  login: string;
  extension: string;
  department: string;
}

const agentColumns = {
  id: humanAgents.id,
  name: humanAgents.name,
  login: humanAgents.login,
  extension: humanAgents.sipExtension,
  department: humanAgents.department,
};

/** The agent a login names, with their password hash; inactive agents are not found. */
export async function findAgentForLogin(db: Database, login: string) {
  const [row] = await db
    .select({ ...agentColumns, passwordHash: humanAgents.passwordHash })
    .from(humanAgents)
    .where(and(eq(humanAgents.login, login), eq(humanAgents.active, true)))
    .limit(1);
  return row ?? null;
}

export async function createAgentSession(
  db: Database,
  agentId: string,
  tokenHash: string,
  expiresAt: Date,
) {
  await db.insert(agentSessions).values({ agentId, tokenHash, expiresAt });
}

/** The agent of a live session: not expired, not revoked, agent still active. */
export async function findAgentBySession(
  db: Database,
  tokenHash: string,
): Promise<(DashboardAgent & { expiresAt: Date }) | null> {
  const [row] = await db
    .select({ ...agentColumns, expiresAt: agentSessions.expiresAt })
    .from(agentSessions)
    .innerJoin(humanAgents, eq(humanAgents.id, agentSessions.agentId))
    .where(
      and(
        eq(agentSessions.tokenHash, tokenHash),
        isNull(agentSessions.revokedAt),
        gt(agentSessions.expiresAt, sql`now()`),
        eq(humanAgents.active, true),
      ),
    )
    .limit(1);
  return row ?? null;
}

export async function revokeAgentSession(db: Database, tokenHash: string) {
  await db
    .update(agentSessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(agentSessions.tokenHash, tokenHash), isNull(agentSessions.revokedAt)));
}

/** Transfers this agent may see: to their department, or to them by name. */
function visibleTo(agent: DashboardAgent) {
  return or(eq(transfers.department, agent.department), eq(transfers.humanAgentId, agent.id));
}

/** The latest transfer of a caller's session that is for this agent; null when there is none. */
export async function findTransferContext(db: Database, agent: DashboardAgent, sessionId: string) {
  const [row] = await db
    .select({
      id: transfers.id,
      sessionId: transfers.sessionId,
      status: transfers.status,
      department: transfers.department,
      reason: transfers.reason,
      summary: transfers.summary,
      caller: transfers.caller,
      transcript: transfers.transcript,
      requestedAt: transfers.requestedAt,
    })
    .from(transfers)
    .where(and(eq(transfers.sessionId, sessionId), visibleTo(agent)))
    .orderBy(desc(transfers.requestedAt))
    .limit(1);
  return row ?? null;
}

export async function recentAgentCalls(db: Database, agentId: string, limit: number) {
  return db
    .select({
      id: agentCalls.id,
      sessionId: agentCalls.sessionId,
      remoteIdentity: agentCalls.remoteIdentity,
      callerName: sql<string | null>`${transfers.caller}->>'name'`,
      reason: transfers.reason,
      outcome: agentCalls.outcome,
      startedAt: agentCalls.startedAt,
      answeredAt: agentCalls.answeredAt,
      endedAt: agentCalls.endedAt,
      disposition: agentCalls.disposition,
      notes: agentCalls.notes,
    })
    .from(agentCalls)
    .leftJoin(transfers, eq(transfers.id, agentCalls.transferId))
    .where(eq(agentCalls.agentId, agentId))
    .orderBy(desc(agentCalls.startedAt))
    .limit(limit);
}

export interface CallRecord {
  sessionId: string | null;
  remoteIdentity: string;
  outcome: string;
  startedAt: Date;
  answeredAt: Date | null;
  endedAt: Date;
}

/**
 * Logs a call. The transfer is linked only when the session's transfer is one this agent may
 * see (a subquery, so still one statement): a made-up session header links nothing.
 */
export async function recordAgentCall(db: Database, agent: DashboardAgent, call: CallRecord) {
  const transferId = call.sessionId
    ? sql`(${db
        .select({ id: transfers.id })
        .from(transfers)
        .where(and(eq(transfers.sessionId, call.sessionId), visibleTo(agent)))
        .orderBy(desc(transfers.requestedAt))
        .limit(1)})`
    : null;
  const [row] = await db
    .insert(agentCalls)
    .values({ agentId: agent.id, ...call, transferId })
    .returning({ id: agentCalls.id });
  if (!row) throw new Error("agent call not recorded");
  return row.id;
}

/** Notes and disposition on one of the agent's own calls; false when it is not theirs. */
export async function saveCallNotes(
  db: Database,
  agentId: string,
  callId: string,
  notes: { disposition: string; notes: string },
): Promise<boolean> {
  const rows = await db
    .update(agentCalls)
    .set(notes)
    .where(and(eq(agentCalls.id, callId), eq(agentCalls.agentId, agentId)))
    .returning({ id: agentCalls.id });
  return rows.length > 0;
}
