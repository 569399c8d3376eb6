import { describe, expect, it } from "vitest";
import {
  type CallStatus,
  isActive,
  newTransfer,
  reduce,
  type Transfer,
  type TransferEvent,
} from "../../transfer/state.ts";
import { backWithAssistant, describeTransfer, noteForAssistant } from "../../transfer/words.ts";

const CALL = `CA${"1".repeat(32)}`;
const STREAM = `MZ${"2".repeat(32)}`;

function requested(): Transfer {
  return newTransfer({
    id: "t1",
    department: "support",
    extension: "2001",
    agent: { id: "a1", name: "Sam Rivera" },
    reason: "billing question",
    at: 1_000,
  });
}

/** Runs events in order; returns the final transfer and the transitions that changed it. */
function run(events: TransferEvent[], start = requested()) {
  let transfer = start;
  const changes: { state: string; hangUp: boolean }[] = [];
  for (const event of events) {
    const next = reduce(transfer, event);
    if (next.changed) changes.push({ state: next.transfer.state, hangUp: next.hangUp });
    else expect(next.transfer).toBe(transfer);
    transfer = next.transfer;
  }
  return { transfer, changes };
}

let clock = 1_000;
const at = () => (clock += 100);
const dialed: () => TransferEvent = () => ({ type: "dialed", callSid: CALL, at: at() });
const status = (s: CallStatus): TransferEvent => ({ type: "provider_status", status: s, at: at() });
const media: () => TransferEvent = () => ({ type: "media_started", streamSid: STREAM, at: at() });

describe("transfer state machine", () => {
  it("goes requested → dialing → ringing → connected → ended on the happy path", () => {
    const { transfer, changes } = run([
      dialed(),
      status("initiated"),
      status("ringing"),
      status("in-progress"),
      media(),
      { type: "media_stopped", at: at() },
    ]);
    expect(changes.map((c) => c.state)).toEqual([
      "dialing",
      "ringing",
      "ringing", // answered: waiting for the media stream
      "connected",
      "ended",
    ]);
    expect(transfer).toMatchObject({
      state: "ended",
      outcome: "agent_ended",
      callSid: CALL,
      streamSid: STREAM,
    });
    expect(transfer.connectedAt).not.toBeNull();
    expect(transfer.answeredAt).not.toBeNull();
  });

  it("fails with the provider's reason, and never hangs up a call the provider ended", () => {
    for (const [provider, outcome] of [
      ["busy", "busy"],
      ["no-answer", "no_answer"],
      ["failed", "failed"],
      ["canceled", "canceled"],
    ] as const) {
      const { transfer, changes } = run([dialed(), status("ringing"), status(provider)]);
      expect(transfer).toMatchObject({ state: "failed", outcome });
      expect(changes.at(-1)?.hangUp).toBe(false);
    }
  });

  it("ignores duplicates and events that would move it backwards", () => {
    const { changes } = run([
      dialed(),
      dialed(),
      status("ringing"),
      status("ringing"),
      status("initiated"),
      status("in-progress"),
      status("ringing"),
      media(),
      media(),
      status("in-progress"),
      status("ringing"),
    ]);
    expect(changes.map((c) => c.state)).toEqual(["dialing", "ringing", "ringing", "connected"]);
  });

  it("changes nothing once finished, whatever arrives late", () => {
    const failed = run([dialed(), status("busy")]).transfer;
    const late = run(
      [status("ringing"), status("in-progress"), media(), status("completed"), dialed()],
      failed,
    );
    expect(late.changes).toEqual([]);
    expect(late.transfer).toBe(failed);
    expect(isActive(failed)).toBe(false);
  });

  it("a completed status before the media stream connected is a failure (no media)", () => {
    const { transfer } = run([
      dialed(),
      status("ringing"),
      status("in-progress"),
      status("completed"),
    ]);
    expect(transfer).toMatchObject({ state: "failed", outcome: "no_media" });
  });

  it("a completed status while connected ends it as the agent's hang-up", () => {
    const { transfer, changes } = run([
      dialed(),
      status("in-progress"),
      media(),
      status("completed"),
    ]);
    expect(transfer).toMatchObject({ state: "ended", outcome: "agent_ended" });
    expect(changes.at(-1)?.hangUp).toBe(false);
  });

  it("the caller cancels while ringing, or ends the call with the person: the call is ended", () => {
    const ringing = run([dialed(), status("ringing"), { type: "caller_cancel", at: at() }]);
    expect(ringing.transfer).toMatchObject({ state: "failed", outcome: "canceled" });
    expect(ringing.changes.at(-1)?.hangUp).toBe(true);
    const connected = run([
      dialed(),
      status("in-progress"),
      media(),
      { type: "caller_cancel", at: at() },
    ]);
    expect(connected.transfer).toMatchObject({ state: "ended", outcome: "caller_ended" });
    expect(connected.changes.at(-1)?.hangUp).toBe(true);
  });

  it("cancelled before the call exists: nothing to hang up", () => {
    const { transfer, changes } = run([{ type: "caller_cancel", at: at() }]);
    expect(transfer).toMatchObject({ state: "failed", outcome: "canceled" });
    expect(changes.at(-1)?.hangUp).toBe(false);
  });

  it("a caller who hangs up ends whatever is going on", () => {
    expect(run([dialed(), { type: "caller_gone", at: at() }]).transfer).toMatchObject({
      state: "failed",
      outcome: "caller_hung_up",
    });
    expect(
      run([dialed(), status("in-progress"), media(), { type: "caller_gone", at: at() }]).transfer,
    ).toMatchObject({ state: "ended", outcome: "caller_hung_up" });
  });

  it("a deadline is a timeout while ringing, no media after an answer, nothing once connected", () => {
    expect(
      run([dialed(), status("ringing"), { type: "deadline", at: at() }]).transfer,
    ).toMatchObject({ state: "failed", outcome: "timeout" });
    expect(
      run([dialed(), status("in-progress"), { type: "deadline", at: at() }]).transfer,
    ).toMatchObject({ state: "failed", outcome: "no_media" });
    expect(
      run([dialed(), status("in-progress"), media(), { type: "deadline", at: at() }]).transfer
        .state,
    ).toBe("connected");
  });

  it("provider events before the call exists, and media without one, change nothing", () => {
    expect(run([status("ringing"), status("in-progress"), media()]).changes).toEqual([]);
  });

  it("a failed dial says why", () => {
    const { transfer } = run([{ type: "dial_failed", outcome: "provider_error", at: at() }]);
    expect(transfer).toMatchObject({ state: "failed", outcome: "provider_error" });
  });
});

describe("transfer words", () => {
  it("says each state in plain words, names who is called, and offers cancel while it can", () => {
    const states = run([dialed(), status("ringing"), status("in-progress"), media()]);
    expect(describeTransfer(requested())).toMatchObject({
      state: "requested",
      text: "Calling Sam in support…",
      cancellable: true,
    });
    const connectedAt = states.transfer.connectedAt ?? Number.NaN;
    expect(describeTransfer(states.transfer, connectedAt + 65_000)).toMatchObject({
      state: "connected",
      text: "You're connected to Sam in support.",
      connectedForMs: 65_000,
    });
    const noAnswer = run([dialed(), status("no-answer")]).transfer;
    expect(describeTransfer(noAnswer)).toMatchObject({
      state: "failed",
      outcome: "no_answer",
      text: "Nobody in support picked up.",
      cancellable: false,
    });
    expect(backWithAssistant(noAnswer)).toMatch(/try again/);
  });

  it("gives the assistant a note of who, how long, or why not", () => {
    const start = requested();
    const ended = run(
      [
        { type: "dialed", callSid: CALL, at: 10_000 },
        { type: "provider_status", status: "in-progress", at: 12_000 },
        { type: "media_started", streamSid: STREAM, at: 12_500 },
        { type: "media_stopped", at: 12_500 + 134_000 },
      ],
      start,
    ).transfer;
    expect(noteForAssistant(ended)).toMatch(
      /connected to Sam Rivera, support, extension 2001 for 2 min 14 s; the agent ended/,
    );
    const busy = run([dialed(), status("busy")], start).transfer;
    expect(noteForAssistant(busy)).toMatch(/failed \(busy\)/);
  });
});
