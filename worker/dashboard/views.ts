/**
 * Database rows as the dashboard sees them. The transfer's `caller` and `transcript` are JSON
 * written by the transfer; they are parsed here, and a malformed one shows as missing.
 */
import {
  type AgentCall,
  callerProfile,
  type TransferContext,
  transcript,
  transferStatus,
} from "./wire.ts";

export function toTransferContext(row: {
  sessionId: string;
  status: string;
  department: string | null;
  reason: string | null;
  summary: string | null;
  caller: unknown;
  transcript: unknown;
  requestedAt: Date;
}): TransferContext {
  const caller = callerProfile.safeParse(row.caller);
  const turns = transcript.safeParse(row.transcript);
  const status = transferStatus.safeParse(row.status);
  return {
    sessionId: row.sessionId,
    status: status.success ? status.data : "failed",
    department: row.department,
    reason: row.reason,
    summary: row.summary,
    caller: caller.success ? caller.data : null,
    transcript: turns.success ? turns.data : [],
    requestedAt: row.requestedAt.getTime(),
  };
}

export function toAgentCall(row: {
  id: string;
  sessionId: string | null;
  remoteIdentity: string;
  callerName: string | null;
  reason: string | null;
  outcome: string;
  startedAt: Date;
  answeredAt: Date | null;
  endedAt: Date | null;
  disposition: string | null;
  notes: string | null;
}): AgentCall {
  return {
    ...row,
    startedAt: row.startedAt.getTime(),
    answeredAt: row.answeredAt?.getTime() ?? null,
    endedAt: row.endedAt?.getTime() ?? null,
  };
}
