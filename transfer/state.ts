/**
 * A transfer to a person as a pure state machine: requested → dialing → ringing → connected →
 * ended, or failed with a reason. Provider events may arrive twice or out of order (Twilio
 * retries webhooks and does not order them): an event that would move the transfer backwards,
 * or anything after it has finished, changes nothing. The session persists the state and
 * carries out the effects (transfer-session.ts); nothing here does I/O.
 */
import type { TransferOutcome, TransferStateName } from "../protocol/messages.ts";

export interface Transfer {
  id: string;
  state: TransferStateName;
  department: string;
  extension: string;
  /** The human agent rung, when the department has one with that extension. */
  agent: { id: string; name: string } | null;
  reason: string;
  /** Twilio's Call SID, once the call exists. */
  callSid: string | null;
  /** Twilio's Media Stream, once connected. */
  streamSid: string | null;
  requestedAt: number;
  ringingAt: number | null;
  /** The human picked up (Twilio's in-progress); the media stream is still on its way. */
  answeredAt: number | null;
  connectedAt: number | null;
  endedAt: number | null;
  outcome: TransferOutcome | null;
}

/** Twilio's CallStatus values. */
export const CALL_STATUSES = [
  "queued",
  "initiated",
  "ringing",
  "in-progress",
  "completed",
  "busy",
  "no-answer",
  "failed",
  "canceled",
] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

export function isCallStatus(value: string): value is CallStatus {
  return (CALL_STATUSES as readonly string[]).includes(value);
}

export type TransferEvent =
  | { type: "dialed"; callSid: string; at: number }
  | { type: "dial_failed"; outcome: "provider_error" | "not_configured"; at: number }
  | { type: "provider_status"; status: CallStatus; at: number }
  | { type: "media_started"; streamSid: string; at: number }
  | { type: "media_stopped"; at: number }
  /** The media stream is gone without Twilio's `stop`: it closed, or a restart lost it. */
  | { type: "media_lost"; at: number }
  /** The caller pressed cancel (or said so). */
  | { type: "caller_cancel"; at: number }
  /** The caller's session ended (hung up, or expired). */
  | { type: "caller_gone"; at: number }
  /** The ring timeout, or the wait for the media stream after an answer, ran out. */
  | { type: "deadline"; at: number };

export interface Transition {
  transfer: Transfer;
  changed: boolean;
  /** The provider's call must be ended (it may still ring or be up). */
  hangUp: boolean;
}

const RANK: Record<TransferStateName, number> = {
  requested: 0,
  dialing: 1,
  ringing: 2,
  connected: 3,
  ended: 4,
  failed: 4,
};

/** Not yet ended or failed. */
export function isActive(transfer: Transfer | undefined): boolean {
  return transfer !== undefined && isActiveState(transfer.state);
}

/** A transfer in this state is still being set up or is connected (the caller page asks too). */
export function isActiveState(state: TransferStateName): boolean {
  return RANK[state] < RANK.ended;
}

export function newTransfer(fields: {
  id: string;
  department: string;
  extension: string;
  agent: Transfer["agent"];
  reason: string;
  at: number;
}): Transfer {
  return {
    id: fields.id,
    state: "requested",
    department: fields.department,
    extension: fields.extension,
    agent: fields.agent,
    reason: fields.reason,
    callSid: null,
    streamSid: null,
    requestedAt: fields.at,
    ringingAt: null,
    answeredAt: null,
    connectedAt: null,
    endedAt: null,
    outcome: null,
  };
}

const unchanged = (transfer: Transfer): Transition => ({ transfer, changed: false, hangUp: false });

function finish(
  transfer: Transfer,
  state: "ended" | "failed",
  outcome: TransferOutcome,
  at: number,
  hangUp: boolean,
): Transition {
  return {
    transfer: { ...transfer, state, outcome, endedAt: at },
    changed: true,
    hangUp: hangUp && transfer.callSid !== null,
  };
}

/** What Twilio's terminal statuses mean for a transfer that was not connected. */
const FAILURE: Partial<Record<CallStatus, TransferOutcome>> = {
  busy: "busy",
  "no-answer": "no_answer",
  failed: "failed",
  canceled: "canceled",
  // Completed without our media stream ever connecting: the call ended before the bridge.
  completed: "no_media",
};

export function reduce(transfer: Transfer, event: TransferEvent): Transition {
  if (!isActive(transfer)) return unchanged(transfer);
  const { at } = event;
  switch (event.type) {
    case "dialed":
      if (transfer.state !== "requested") return unchanged(transfer);
      return {
        transfer: { ...transfer, state: "dialing", callSid: event.callSid },
        changed: true,
        hangUp: false,
      };
    case "dial_failed":
      return finish(transfer, "failed", event.outcome, at, false);
    case "provider_status":
      return providerStatus(transfer, event.status, at);
    case "media_started":
      if (transfer.state === "connected" || transfer.callSid === null) return unchanged(transfer);
      return {
        transfer: {
          ...transfer,
          state: "connected",
          streamSid: event.streamSid,
          answeredAt: transfer.answeredAt ?? at,
          connectedAt: at,
        },
        changed: true,
        hangUp: false,
      };
    case "media_stopped":
      if (transfer.state !== "connected") return unchanged(transfer);
      return finish(transfer, "ended", "agent_ended", at, true);
    case "media_lost":
      if (transfer.state !== "connected") return unchanged(transfer);
      return finish(transfer, "ended", "dropped", at, true);
    case "caller_cancel":
      return transfer.state === "connected"
        ? finish(transfer, "ended", "caller_ended", at, true)
        : finish(transfer, "failed", "canceled", at, true);
    case "caller_gone":
      return transfer.state === "connected"
        ? finish(transfer, "ended", "caller_hung_up", at, true)
        : finish(transfer, "failed", "caller_hung_up", at, true);
    case "deadline":
      if (transfer.state === "connected") return unchanged(transfer);
      return finish(transfer, "failed", transfer.answeredAt ? "no_media" : "timeout", at, true);
  }
}

function providerStatus(transfer: Transfer, status: CallStatus, at: number): Transition {
  if (transfer.callSid === null) return unchanged(transfer);
  switch (status) {
    case "queued":
    case "initiated":
      return unchanged(transfer);
    case "ringing":
      if (RANK[transfer.state] >= RANK.ringing) return unchanged(transfer);
      return {
        transfer: { ...transfer, state: "ringing", ringingAt: at },
        changed: true,
        hangUp: false,
      };
    case "in-progress":
      if (transfer.answeredAt !== null || transfer.state === "connected") {
        return unchanged(transfer);
      }
      return {
        transfer: {
          ...transfer,
          state: "ringing",
          ringingAt: transfer.ringingAt ?? at,
          answeredAt: at,
        },
        changed: true,
        hangUp: false,
      };
    default: {
      if (transfer.state === "connected")
        return finish(transfer, "ended", "agent_ended", at, false);
      return finish(transfer, "failed", FAILURE[status] ?? "failed", at, false);
    }
  }
}
