/**
 * What the caller reads and hears about a transfer, and the note the assistant keeps in its
 * history — plain words for every state and outcome, in one place.
 */
import type { ServerMessageOf, TransferOutcome } from "../protocol/messages.ts";
import type { Transfer } from "./state.ts";

const who = (t: Transfer) =>
  t.agent ? `${t.agent.name.split(/\s+/)[0]} in ${t.department}` : `an agent in ${t.department}`;

/** Why it failed, as a caller hears it. */
const FAILED: Record<TransferOutcome, (t: Transfer) => string> = {
  busy: (t) => `${capital(who(t))} is on another call right now.`,
  no_answer: (t) => `Nobody in ${t.department} picked up.`,
  timeout: (t) => `Nobody in ${t.department} picked up.`,
  failed: () => "The call to the agent didn't go through.",
  provider_error: () => "I couldn't place the call to the agent just now.",
  no_media: () => "The agent answered, but the line didn't connect.",
  canceled: () => "Okay, I've cancelled the transfer.",
  not_configured: () => "Transfer to a person isn't set up on this service yet.",
  caller_hung_up: () => "The call ended.",
  caller_ended: () => "You ended the call with the agent.",
  agent_ended: () => "The agent ended the call.",
  dropped: () => "The line to the agent dropped.",
};

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function describeTransfer(
  transfer: Transfer,
  now = Date.now(),
): ServerMessageOf<"transfer_status"> {
  const base = {
    type: "transfer_status" as const,
    transferId: transfer.id,
    state: transfer.state,
    department: transfer.department,
  };
  switch (transfer.state) {
    case "requested":
    case "dialing":
      return { ...base, text: `Calling ${who(transfer)}…`, cancellable: true };
    case "ringing":
      return {
        ...base,
        text: transfer.answeredAt
          ? `${capital(who(transfer))} answered — connecting…`
          : `Ringing ${who(transfer)}…`,
        cancellable: true,
      };
    case "connected":
      return {
        ...base,
        text: `You're connected to ${who(transfer)}.`,
        cancellable: true,
        ...(transfer.connectedAt === null
          ? {}
          : { connectedForMs: Math.max(0, now - transfer.connectedAt) }),
      };
    case "ended":
    case "failed": {
      const outcome = transfer.outcome ?? "failed";
      return { ...base, text: FAILED[outcome](transfer), outcome, cancellable: false };
    }
  }
}

/** What the assistant says when the caller is back with it. */
export function backWithAssistant(transfer: Transfer): string {
  const outcome = transfer.outcome ?? "failed";
  if (transfer.state === "ended") {
    return outcome === "caller_hung_up"
      ? ""
      : `${FAILED[outcome](transfer)} I'm back with you — is there anything else I can do?`;
  }
  if (outcome === "canceled") return `${FAILED.canceled(transfer)} What else can I do for you?`;
  if (outcome === "not_configured" || outcome === "caller_hung_up") return "";
  return `${FAILED[outcome](transfer)} Would you like me to try again, or can I help with something else?`;
}

/** The assistant's own record of what happened, added to its history. */
export function noteForAssistant(transfer: Transfer, now = Date.now()): string {
  const target = `${transfer.agent ? `${transfer.agent.name}, ` : ""}${transfer.department}, extension ${transfer.extension}`;
  if (transfer.state === "ended" && transfer.connectedAt !== null) {
    const seconds = Math.round(((transfer.endedAt ?? now) - transfer.connectedAt) / 1000);
    const how =
      transfer.outcome === "agent_ended"
        ? "the agent ended that call"
        : transfer.outcome === "dropped"
          ? "the line dropped"
          : "the caller ended that call";
    return `[Transfer note: the caller was connected to ${target} for ${duration(seconds)}; ${how}. The caller is back with you now.]`;
  }
  return `[Transfer note: the transfer to ${target} failed (${(transfer.outcome ?? "failed").replace("_", " ")}). The caller is still with you; you may offer to try again.]`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}
