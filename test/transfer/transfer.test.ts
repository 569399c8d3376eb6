/**
 * The transfer to a person end to end, as a caller and Twilio see it: the real app under
 * `npm start` (wrangler dev), a fake Twilio that speaks its REST API, signs its status callbacks
 * and opens the media stream back to the app, fake Claude and Deepgram, and a Postgres the test
 * reads. Each test signs in as a demo user on a session of its own.
 */
import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { transfers } from "../../worker/db/schema.ts";
import { claudeRequests, dropScript, scriptClaude } from "../fakes/anthropic/client.ts";
import { deepgramLog } from "../fakes/deepgram/client.ts";
import {
  dropStream,
  humanHangUp,
  humanTone,
  scriptTwilio,
  twilioCalls,
  waitForCall,
} from "../fakes/twilio/client.ts";
import { MediaPeer } from "../fakes/twilio/media-peer.ts";
import { twilioSignature } from "../fakes/twilio/signature.ts";
import { dominantHz, pcm16, rmsOf } from "../support/audio-checks.ts";
import { NodeCaller } from "../support/node-caller.ts";
import {
  SIP_DOMAIN,
  TWILIO_ACCOUNT,
  TWILIO_TOKEN,
  useTransferApp,
} from "./support/transfer-app.ts";

const app = useTransferApp();

/** Alice (support is Sam Rivera's department, extension 2001). */
const ALICE = { pin: "1234", name: "Alice Nguyen" };
const BOB = { pin: "5678", name: "Bob Okafor" };

/**
 * Signs Alice in on a new session and scripts Claude to transfer her to support when she asks
 * (`ref` makes the conversation this test's own), then to answer `after` for later turns.
 */
async function askForPerson(after: string[] = ["Anything else I can do?"], user = ALICE) {
  const ref = `ref-${randomUUID().slice(0, 8)}`;
  await scriptClaude(app.anthropic, user.name, [
    {
      kind: "tool_use",
      calls: [
        {
          name: "transfer_to_agent",
          input: { department: "support", reason: `Disputes a charge ${ref}` },
        },
      ],
    },
    { kind: "text", text: "Connecting you to Sam in support now." },
    ...after.map((text) => ({ kind: "text" as const, text })),
  ]);
  const { caller, signedIn } = await NodeCaller.signIn(app.url, user.pin);
  return { caller, sessionId: signedIn.sessionId, signedIn, ref };
}

async function say(caller: NodeCaller, ref: string) {
  caller.say(`I'd like to talk to a person about a charge, ${ref}`);
  return caller.until("assistant_done");
}

async function transferRow(sessionId: string) {
  const [row] = await app.db.select().from(transfers).where(eq(transfers.sessionId, sessionId));
  return row;
}

/** 20 ms frames of a 16 kHz sine, sent in real time. */
async function speakTone(caller: NodeCaller, hz: number, ms: number, amplitude = 0.3) {
  const frames = ms / 20;
  const start = performance.now();
  for (let f = 0; f < frames; f++) {
    const pcm = new Int16Array(320);
    for (let i = 0; i < 320; i++) {
      const n = f * 320 + i;
      pcm[i] = Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * hz * n) / 16_000));
    }
    caller.sendPcm(new Uint8Array(pcm.buffer));
    const due = start + (f + 1) * 20 - performance.now();
    if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
  }
}

const dbfs = (rms: number) => 20 * Math.log10(rms);
/** A sine of amplitude A has an RMS of A/√2. */
const sineDbfs = (amplitude: number) => dbfs(amplitude / Math.SQRT2);

// Demo users are shared by the file's tests: a test's leftover Claude steps must not answer
// the next one.
afterEach(async () => {
  await Promise.all([dropScript(app.anthropic, ALICE.name), dropScript(app.anthropic, BOB.name)]);
});

describe("transfer to a person", () => {
  it("dials the department's agent with the context stored, bridges a tone each way, and brings the caller back", async () => {
    const { caller, sessionId, ref } = await askForPerson(["Glad Sam could help. Anything else?"]);
    const summary = `Alice asked about her todos. She wants a person to dispute a charge (${ref}).`;
    await scriptClaude(app.anthropic, ref, [{ kind: "text", text: summary }]);
    await scriptTwilio(app.twilio, sessionId, [
      { status: "initiated" },
      { status: "ringing", afterMs: 100 },
      { status: "in-progress", afterMs: 400 },
    ]);
    await say(caller, ref);
    const connected = await caller.until("transfer_status", (m) => m.state === "connected", 10_000);
    expect(connected.text).toBe("You're connected to Sam in support.");
    const states = caller.log.flatMap((m) => (m.type === "transfer_status" ? [m.state] : []));
    expect(states).toEqual(["requested", "dialing", "ringing", "ringing", "connected"]);

    // Twilio was asked for one call to extension 2001 with the session in its SIP headers.
    const [call] = await twilioCalls(app.twilio, sessionId);
    if (!call) throw new Error("no call");
    const to = new URL(call.params.To ?? "");
    expect(to.protocol).toBe("sip:");
    expect(to.pathname).toBe(`2001@${SIP_DOMAIN}`);
    expect(to.searchParams.get("X-Session")).toBe(sessionId);
    expect(to.searchParams.get("X-Caller-Name")).toBe(ALICE.name);
    expect(call.params.Timeout).toBe("4");
    expect(call.params.Twiml).toMatch(
      /<Connect><Stream url="ws:\/\/127\.0\.0\.1:\d+\/twilio\/media\//,
    );
    expect(call.params.Twiml).toMatch(/<Parameter name="token" value="[A-Za-z0-9_-]{43}"\/>/);
    expect(call.callbacks.every((c) => c.httpStatus === 204)).toBe(true);

    // The row has what the human reads when it rings.
    await expect.poll(async () => (await transferRow(sessionId))?.summary).toBe(summary);
    await expect.poll(async () => (await transferRow(sessionId))?.status).toBe("connected");
    const row = await transferRow(sessionId);
    expect(row).toMatchObject({
      status: "connected",
      department: "support",
      extension: "2001",
      providerCallId: call.sid,
      caller: { name: ALICE.name, email: expect.stringContaining("@"), teams: expect.any(Array) },
    });
    expect(row?.reason).toContain(ref);
    expect(JSON.stringify(row?.transcript)).toContain(ref);

    // Caller → human: a 440 Hz tone, measured where the human hears it (8 kHz μ-law).
    await speakTone(caller, 440, 1_000);
    const heard = await waitForCall(
      app.twilio,
      sessionId,
      (c) => (c.stream?.framesReceived ?? 0) >= 45,
      5_000,
    );
    const atHuman = pcm16(Buffer.from(heard.stream?.received ?? "", "base64")).subarray(800);
    expect(Math.abs(dominantHz(atHuman, 8_000) - 440)).toBeLessThanOrEqual(4);
    expect(Math.abs(dbfs(rmsOf(atHuman)) - sineDbfs(0.3))).toBeLessThan(1.5);
    // A mark after the caller's first audio, echoed by Twilio once played.
    expect(heard.stream?.marksReceived).toEqual(["caller-audio-start"]);
    expect(heard.stream?.marksEchoed).toEqual(["caller-audio-start"]);

    // Human → caller: a 1 kHz tone, measured where the caller hears it (16 kHz PCM).
    const before = caller.humanAudio().byteLength;
    await humanTone(app.twilio, call.sid, { hz: 1_000, ms: 1_000, amplitude: 0.3 });
    await expect
      .poll(() => caller.humanAudio().byteLength - before, { timeout: 5_000 })
      .toBeGreaterThan(30_000);
    const atCaller = pcm16(Buffer.from(caller.humanAudio().subarray(before))).subarray(
      1_600,
      14_400,
    );
    expect(Math.abs(dominantHz(atCaller, 16_000) - 1_000)).toBeLessThanOrEqual(4);
    expect(Math.abs(dbfs(rmsOf(atCaller)) - sineDbfs(0.3))).toBeLessThan(1.5);

    // While the person talks, the assistant neither listens nor answers.
    caller.say("are you still there, assistant?");
    expect(await caller.until("error")).toMatchObject({ code: "unavailable" });
    const log = await deepgramLog(app.deepgram, sessionId);
    expect(log.connections.every((c) => c.closedByClient)).toBe(true);

    // The human hangs up: the caller is told, and is back with the assistant.
    await humanHangUp(app.twilio, call.sid);
    const ended = await caller.until("transfer_status", (m) => m.state === "ended");
    expect(ended).toMatchObject({ outcome: "agent_ended", text: "The agent ended the call." });
    const back = await caller.until("transcript");
    expect(back.entry.text).toMatch(/I'm back with you/);
    await expect.poll(async () => (await transferRow(sessionId))?.status).toBe("ended");
    expect(await transferRow(sessionId)).toMatchObject({ endedBy: "agent" });

    // The assistant knows what happened.
    caller.say("thanks, that's sorted");
    await caller.until("assistant_done");
    const last = (await claudeRequests(app.anthropic, ALICE.name)).at(-1);
    expect(JSON.stringify(last?.body)).toMatch(
      /Transfer note: the caller was connected to Sam Rivera, support, extension 2001 for \d+ s; the agent ended that call/,
    );
    caller.close();
  });

  /**
   * Every way a transfer can fail ends with the caller told in plain words, back with the
   * assistant, the call ended at Twilio where it was still up, and the row saying why.
   */
  async function failedTransfer(
    steps: Parameters<typeof scriptTwilio>[2],
    options: { act?: (caller: NodeCaller, sessionId: string) => Promise<void> } = {},
  ) {
    const { caller, sessionId, ref } = await askForPerson(["Shall I try again?"]);
    await scriptTwilio(app.twilio, sessionId, steps);
    await say(caller, ref);
    await options.act?.(caller, sessionId);
    const failed = await caller.until(
      "transfer_status",
      (m) => m.state === "failed" || m.state === "ended",
      15_000,
    );
    await expect.poll(async () => (await transferRow(sessionId))?.status).toBe(failed.state);
    const row = await transferRow(sessionId);
    const [call] = await twilioCalls(app.twilio, sessionId);
    return { caller, sessionId, failed, row, call };
  }

  async function backWithAssistant(caller: NodeCaller, note: RegExp) {
    caller.say("okay, what now?");
    await caller.until("assistant_done");
    const last = (await claudeRequests(app.anthropic, ALICE.name)).at(-1);
    expect(JSON.stringify(last?.body)).toMatch(note);
    caller.close();
  }

  it("busy: the caller hears who is busy and is offered another try", async () => {
    const { caller, failed, row } = await failedTransfer([
      { status: "ringing", afterMs: 100 },
      { status: "busy", afterMs: 200, sipResponseCode: 486 },
    ]);
    expect(failed).toMatchObject({
      outcome: "busy",
      text: "Sam in support is on another call right now.",
    });
    expect((await caller.until("transcript")).entry.text).toMatch(/try again/);
    expect(row).toMatchObject({ status: "failed", failureReason: "busy" });
    // No summary was scripted (the fake Claude refuses): the caller's own words stand in.
    expect(row?.summary).toMatch(
      /^Caller asked for a person: Disputes a charge ref-\w+\. Their last words: "I'd like to talk to a person/,
    );
    await backWithAssistant(
      caller,
      /transfer to Sam Rivera, support, extension 2001 failed \(busy\)/,
    );
  });

  it("no answer within the ring timeout: Twilio's timeout ends it as no-answer", async () => {
    const { caller, failed, call } = await failedTransfer([{ status: "ringing", afterMs: 100 }]);
    expect(failed).toMatchObject({ outcome: "no_answer", text: "Nobody in support picked up." });
    expect(call?.status).toBe("no-answer");
    await backWithAssistant(caller, /failed \(no answer\)/);
  });

  it("a SIP failure is said plainly", async () => {
    const { caller, failed } = await failedTransfer([
      { status: "failed", afterMs: 100, sipResponseCode: 503 },
    ]);
    expect(failed.text).toBe("The call to the agent didn't go through.");
    await backWithAssistant(caller, /failed \(failed\)/);
  });

  it("answered but no media stream within the limit: the call is ended at Twilio", async () => {
    const { caller, failed, call } = await failedTransfer([
      { status: "ringing", afterMs: 100 },
      { status: "in-progress", afterMs: 100, openStream: false },
    ]);
    expect(failed).toMatchObject({ outcome: "no_media" });
    expect(call?.updates.map((u) => u.Status)).toContain("completed");
    await backWithAssistant(caller, /failed \(no media\)/);
  });

  it("the caller cancels while it rings: Twilio is told to cancel", async () => {
    const { caller, failed, row, call } = await failedTransfer(
      [{ status: "ringing", afterMs: 100 }],
      {
        act: async (caller) => {
          await caller.until("transfer_status", (m) => m.state === "ringing");
          caller.send({ type: "cancel_transfer" });
        },
      },
    );
    expect(failed).toMatchObject({ outcome: "canceled", cancellable: false });
    expect(row).toMatchObject({ failureReason: "canceled" });
    await expect
      .poll(async () =>
        (await twilioCalls(app.twilio, call?.params.To ?? "x"))[0]?.updates.map((u) => u.Status),
      )
      .toEqual(["canceled"]);
    await backWithAssistant(caller, /failed \(canceled\)/);
  });

  it("the caller ends the call with the person: Twilio's call is completed", async () => {
    const { caller, failed, row } = await failedTransfer(
      [
        { status: "ringing", afterMs: 100 },
        { status: "in-progress", afterMs: 100 },
      ],
      {
        act: async (caller) => {
          await caller.until("transfer_status", (m) => m.state === "connected");
          caller.send({ type: "cancel_transfer" });
        },
      },
    );
    expect(failed).toMatchObject({ state: "ended", outcome: "caller_ended" });
    expect(row).toMatchObject({ endedBy: "caller" });
    // What Twilio still buffered of the caller is cleared before the stream closes.
    const [call] = await twilioCalls(app.twilio, row?.sessionId ?? "x");
    expect(call?.stream?.clears).toBe(1);
    await backWithAssistant(caller, /connected to Sam Rivera.*the caller ended that call/);
  });

  it("the line to the person drops (the stream closes without a stop): said plainly, not as their hang-up", async () => {
    const { caller, sessionId, failed, row } = await failedTransfer(
      [
        { status: "ringing", afterMs: 100 },
        { status: "in-progress", afterMs: 100 },
      ],
      {
        act: async (caller, sessionId) => {
          await caller.until("transfer_status", (m) => m.state === "connected");
          const [call] = await twilioCalls(app.twilio, sessionId);
          if (!call) throw new Error("no call");
          await dropStream(app.twilio, call.sid);
        },
      },
    );
    expect(failed).toMatchObject({
      state: "ended",
      outcome: "dropped",
      text: "The line to the agent dropped.",
    });
    expect(row).toMatchObject({ endedBy: "line" });
    // The app ends the call at Twilio; its "completed" then changes nothing.
    await waitForCall(app.twilio, sessionId, (c) =>
      c.callbacks.some((callback) => callback.CallStatus === "completed" && callback.httpStatus),
    );
    expect(await transferRow(sessionId)).toMatchObject({ status: "ended", endedBy: "line" });
    await backWithAssistant(caller, /connected to Sam Rivera.*the line dropped/);
  });

  it("back on a new connection mid-call (a reload), the caller learns how long it has been connected", async () => {
    const { caller, sessionId, signedIn, ref } = await askForPerson();
    await scriptTwilio(app.twilio, sessionId, [
      { status: "ringing", afterMs: 100 },
      { status: "in-progress", afterMs: 100 },
    ]);
    await say(caller, ref);
    await caller.until("transfer_status", (m) => m.state === "connected");
    const connectedBy = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const { caller: back } = await NodeCaller.resume(app.url, sessionId, signedIn.resumeToken);
    const shown = await back.until("transfer_status");
    const since = Date.now() - connectedBy;
    expect(shown.state).toBe("connected");
    expect(shown.connectedForMs).toBeGreaterThanOrEqual(1_200);
    // Counted from the connection, not from the request or the ringing before it.
    expect(shown.connectedForMs).toBeLessThanOrEqual(since + 500);
    back.send({ type: "cancel_transfer" });
    await back.until("transfer_status", (m) => m.state === "ended");
    back.close();
    caller.close();
  });

  it("a caller who hangs up while it rings ends the Twilio call", async () => {
    const { caller, sessionId, ref } = await askForPerson();
    await scriptTwilio(app.twilio, sessionId, [{ status: "ringing", afterMs: 100 }]);
    await say(caller, ref);
    await caller.until("transfer_status", (m) => m.state === "ringing");
    caller.send({ type: "hang_up" });
    await caller.waitForClose();
    await expect
      .poll(async () => (await transferRow(sessionId))?.failureReason)
      .toBe("caller_hung_up");
    const [call] = await twilioCalls(app.twilio, sessionId);
    expect(call?.updates.map((u) => u.Status)).toEqual(["canceled"]);
  });

  it("refuses unsigned, forged and misdirected callbacks, and wrong, foreign or replayed stream tokens", async () => {
    const { caller, sessionId, ref } = await askForPerson();
    await scriptTwilio(app.twilio, sessionId, [
      { status: "ringing", afterMs: 100 },
      { status: "in-progress", afterMs: 1_500 },
    ]);
    await say(caller, ref);
    await caller.until("transfer_status", (m) => m.state === "ringing");
    const [call] = await twilioCalls(app.twilio, sessionId);
    if (!call) throw new Error("no call");
    const statusUrl = `${app.url}twilio/status/${sessionId}`;
    const busy = { CallSid: call.sid, CallStatus: "busy", AccountSid: TWILIO_ACCOUNT };
    const post = (url: string, signature?: string) =>
      fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          ...(signature ? { "x-twilio-signature": signature } : {}),
        },
        body: new URLSearchParams(busy),
      });
    expect((await post(statusUrl)).status).toBe(403);
    expect((await post(statusUrl, twilioSignature("not-the-token", statusUrl, busy))).status).toBe(
      403,
    );
    // Signed for another session's URL: a replay of someone else's callback.
    const elsewhere = `${app.url}twilio/status/${"0".repeat(64)}`;
    expect((await post(statusUrl, twilioSignature(TWILIO_TOKEN, elsewhere, busy))).status).toBe(
      403,
    );
    expect((await transferRow(sessionId))?.status).toBe("ringing");

    // The media stream is admitted only with this transfer's token, once.
    const token = /name="token" value="([^"]+)"/.exec(call.params.Twiml ?? "")?.[1] ?? "";
    const mediaUrl = `${app.url.replace(/^http/, "ws")}twilio/media/${sessionId}`;
    const stream = (parameters: Record<string, string>, url = mediaUrl, callSid = call.sid) =>
      MediaPeer.open({
        url,
        accountSid: TWILIO_ACCOUNT,
        callSid,
        authToken: TWILIO_TOKEN,
        customParameters: parameters,
      }).then((peer) => peer.outcome());
    expect(await stream({ token: "a-wrong-token-of-the-right-shape-0123456789" })).toMatchObject({
      accepted: false,
      closeCode: 1008,
    });
    expect(await stream({})).toMatchObject({ accepted: false, closeCode: 1008 });
    const forged = await MediaPeer.open({
      url: mediaUrl,
      accountSid: TWILIO_ACCOUNT,
      callSid: call.sid,
      customParameters: { token },
      headers: { "X-Twilio-Signature": "Zm9yZ2Vk" },
    });
    expect(await forged.outcome()).toMatchObject({ accepted: false, upgradeStatus: 403 });

    // Bob's transfer, ringing: Alice's token is no key to his session.
    const bob = await askForPerson(["Okay."], BOB);
    await scriptTwilio(app.twilio, bob.sessionId, [{ status: "ringing", afterMs: 100 }]);
    await say(bob.caller, bob.ref);
    await bob.caller.until("transfer_status", (m) => m.state === "ringing");
    const [bobCall] = await twilioCalls(app.twilio, bob.sessionId);
    const bobUrl = `${app.url.replace(/^http/, "ws")}twilio/media/${bob.sessionId}`;
    expect(await stream({ token }, bobUrl, bobCall?.sid)).toMatchObject({
      accepted: false,
      closeCode: 1008,
    });
    bob.caller.send({ type: "cancel_transfer" });
    await bob.caller.until("transfer_status", (m) => m.state === "failed");
    bob.caller.close();

    // Twilio's own stream gets in; the same token replayed afterwards does not.
    await caller.until("transfer_status", (m) => m.state === "connected", 10_000);
    expect(await stream({ token })).toMatchObject({ accepted: false, closeCode: 1008 });
    expect((await transferRow(sessionId))?.status).toBe("connected");
    caller.send({ type: "cancel_transfer" });
    await caller.until("transfer_status", (m) => m.state === "ended");
    caller.close();
  });

  it("duplicate and out-of-order callbacks change nothing", async () => {
    const { caller, sessionId, ref } = await askForPerson();
    await scriptTwilio(app.twilio, sessionId, [
      { status: "initiated" },
      { status: "ringing", afterMs: 100 },
      // Twilio retries: the same callback twice, then a late "initiated".
      { callback: { CallStatus: "ringing", SequenceNumber: "1" } },
      { callback: { CallStatus: "initiated", SequenceNumber: "0" } },
      { status: "in-progress", afterMs: 100 },
      { callback: { CallStatus: "ringing", SequenceNumber: "1" }, afterMs: 300 },
      { callback: { CallStatus: "in-progress", SequenceNumber: "2" } },
    ]);
    await say(caller, ref);
    await caller.until("transfer_status", (m) => m.state === "connected", 10_000);
    await waitForCall(app.twilio, sessionId, (c) => c.callbacks.length >= 7);
    const states = caller.log.flatMap((m) => (m.type === "transfer_status" ? [m.state] : []));
    expect(states).toEqual(["requested", "dialing", "ringing", "ringing", "connected"]);
    expect((await transferRow(sessionId))?.status).toBe("connected");
    caller.send({ type: "cancel_transfer" });
    await caller.until("transfer_status", (m) => m.state === "ended");
    caller.close();
  });

  it("one transfer at a time: a second request while one rings is refused to the model", async () => {
    const { caller, sessionId, ref } = await askForPerson([]);
    await scriptClaude(app.anthropic, ALICE.name, [
      {
        kind: "tool_use",
        calls: [{ name: "transfer_to_agent", input: { department: "billing", reason: "again" } }],
      },
      { kind: "text", text: "You're already being connected." },
    ]);
    await scriptTwilio(app.twilio, sessionId, [{ status: "ringing", afterMs: 100 }]);
    await say(caller, ref);
    await caller.until("transfer_status", (m) => m.state === "ringing");
    caller.say("and billing too please");
    await caller.until("assistant_done");
    const last = (await claudeRequests(app.anthropic, ALICE.name)).at(-1);
    expect(JSON.stringify(last?.body)).toMatch(/A transfer to support is already ringing/);
    expect(await twilioCalls(app.twilio, sessionId)).toHaveLength(1);
    caller.send({ type: "cancel_transfer" });
    await caller.until("transfer_status", (m) => m.state === "failed");
    caller.close();
  });
});
