/** The call's state at the centre of the caller page, from what the page knows (call-state.ts). */
import { describe, expect, it } from "vitest";
import { type CallFacts, callView } from "../../web/caller/call-state.ts";

const calm: CallFacts = {
  connection: "ready",
  mic: "on",
  speaking: false,
  thinking: false,
  transfer: undefined,
  agentMissing: false,
};

describe("the call's state", () => {
  it("says whether the microphone listens when nothing else happens", () => {
    expect(callView(calm)).toEqual({ state: "listening", label: "Listening" });
    expect(callView({ ...calm, mic: "muted" })).toEqual({ state: "muted", label: "Muted" });
    expect(callView({ ...calm, mic: "needs-gesture" })).toEqual({
      state: "mic-off",
      label: "Tap Start mic to talk",
    });
    expect(callView({ ...calm, mic: "unavailable" }).label).toMatch(/type below/);
  });

  it("shows the assistant thinking, then speaking, over the microphone's state", () => {
    expect(callView({ ...calm, thinking: true }).state).toBe("thinking");
    expect(callView({ ...calm, thinking: true, speaking: true }).state).toBe("speaking");
    expect(callView({ ...calm, mic: "muted", speaking: true }).state).toBe("speaking");
  });

  it("puts a transfer before the assistant, and a lost connection before everything", () => {
    for (const transfer of ["requested", "dialing", "ringing"] as const) {
      expect(callView({ ...calm, speaking: true, transfer }).state).toBe("transferring");
    }
    expect(callView({ ...calm, transfer: "connected" })).toEqual({
      state: "with-agent",
      label: "With an agent",
    });
    // Over: the call is the assistant's again.
    expect(callView({ ...calm, transfer: "failed" }).state).toBe("listening");
    expect(callView({ ...calm, transfer: "ringing", connection: "lost" }).state).toBe(
      "reconnecting",
    );
    expect(callView({ ...calm, connection: "connecting" }).state).toBe("connecting");
  });

  it("says when there is no assistant to talk to", () => {
    expect(callView({ ...calm, agentMissing: true })).toEqual({
      state: "offline",
      label: "Assistant offline",
    });
  });
});
