/** The call's state at the centre of the caller page, from what the page knows (call-state.ts). */
import { describe, expect, it } from "vitest";
import { CallActivity } from "../../web/caller/call-activity.ts";
import { type CallFacts, type CallView, callView } from "../../web/caller/call-state.ts";

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

  it("a new turn shows thinking whether the old reply's quiet is reported before or after it", () => {
    const facts = () =>
      ({ connection: "ready", mic: "on", transfer: undefined, agentMissing: false }) as const;
    for (const quietFirst of [true, false]) {
      const shown: CallView[] = [];
      const stage = { interim: () => undefined, show: (view: CallView) => shown.push(view) };
      const activity = new CallActivity(stage, facts);
      activity.playing(true);
      expect(shown.at(-1)?.state).toBe("speaking");
      // The caller types over the reply: the page stops it, and the turn's message comes.
      if (quietFirst) activity.playing(false);
      activity.turnStarted();
      if (!quietFirst) activity.playing(false);
      expect(shown.at(-1)?.state).toBe("thinking");
      // Between two sentences of the next reply, speaking holds over the gap.
      activity.playing(true);
      activity.playing(false);
      expect(shown.at(-1)?.state).toBe("speaking");
    }
  });
});
