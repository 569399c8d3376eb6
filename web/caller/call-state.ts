/**
 * What the call is doing, as the centre of the page shows it: one state from everything the
 * page knows (the connection, the microphone, the assistant, a transfer), by priority — a lost
 * connection first, then a transfer, then the assistant speaking or thinking, then whether the
 * microphone listens. Pure, so the rules are tested on their own (test/unit/page-call-state).
 */
import type { TransferStateName } from "../../protocol/messages.ts";

export type MicState = "off" | "starting" | "on" | "muted" | "needs-gesture" | "unavailable";

export type CallStateName =
  | "connecting"
  | "reconnecting"
  | "transferring"
  | "with-agent"
  | "speaking"
  | "thinking"
  | "offline"
  | "listening"
  | "muted"
  | "mic-off";

export interface CallFacts {
  /** The session is live on an open socket; "lost" once it was and is not anymore. */
  connection: "ready" | "connecting" | "lost";
  mic: MicState;
  /** The assistant is sounding, or working on an answer (a turn is under way). */
  speaking: boolean;
  thinking: boolean;
  transfer: TransferStateName | undefined;
  /** The server has no assistant configured. */
  agentMissing: boolean;
}

export interface CallView {
  state: CallStateName;
  /** A word or two under the indicator. */
  label: string;
}

const MIC_LABEL: Record<MicState, CallView> = {
  on: { state: "listening", label: "Listening" },
  muted: { state: "muted", label: "Muted" },
  starting: { state: "mic-off", label: "Starting the microphone…" },
  "needs-gesture": { state: "mic-off", label: "Tap Start mic to talk" },
  unavailable: { state: "mic-off", label: "No microphone: type below" },
  off: { state: "mic-off", label: "Microphone off" },
};

export function callView(facts: CallFacts): CallView {
  if (facts.connection === "lost") return { state: "reconnecting", label: "Reconnecting…" };
  if (facts.connection === "connecting") return { state: "connecting", label: "Connecting…" };
  switch (facts.transfer) {
    case "requested":
    case "dialing":
    case "ringing":
      return { state: "transferring", label: "Transferring…" };
    case "connected":
      return { state: "with-agent", label: "With an agent" };
  }
  if (facts.speaking) return { state: "speaking", label: "Speaking" };
  if (facts.thinking) return { state: "thinking", label: "Thinking…" };
  if (facts.agentMissing) return { state: "offline", label: "Assistant offline" };
  return MIC_LABEL[facts.mic];
}
