/**
 * A transfer survives a restart of the runtime: the session's storage keeps its state, Twilio's
 * callbacks and media stream find the same object afterwards, and a caller who reconnects sees
 * where the transfer stands. The app restarts on the same port (where Twilio still calls) with
 * the same Durable Object storage.
 */
import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { transfers } from "../../worker/db/schema.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import {
  humanAnswer,
  humanHangUp,
  scriptTwilio,
  twilioCalls,
  waitForCall,
} from "../fakes/twilio/client.ts";
import { NodeCaller } from "../support/node-caller.ts";
import { type TransferApp, useTransferApp } from "./support/transfer-app.ts";

// Rings long enough to outlast a restart.
const app = useTransferApp({ TRANSFER_RING_TIMEOUT_SECONDS: "120" });
// Twilio keeps the call up when the stream drops, until the test hangs it up: its "completed"
// then reaches the restarted app before the caller is back.
const lateHangUpApp = useTransferApp(
  { TRANSFER_RING_TIMEOUT_SECONDS: "120" },
  { hangUpWhenStreamDrops: false },
);

const CARMEN = { pin: "2468", name: "Carmen Diaz" };
/** What the assistant says once a transfer has ended and the caller is back with it. */
const BACK_WITH_YOU = /I'm back with you/;

async function ringingTransfer(app: TransferApp) {
  const ref = `ref-${randomUUID().slice(0, 8)}`;
  await scriptClaude(app.anthropic, CARMEN.name, [
    {
      kind: "tool_use",
      calls: [
        { name: "transfer_to_agent", input: { department: "support", reason: `Help ${ref}` } },
      ],
    },
    { kind: "text", text: "Connecting you now." },
  ]);
  const { caller, signedIn } = await NodeCaller.signIn(app.url, CARMEN.pin);
  await scriptTwilio(app.twilio, signedIn.sessionId, [{ status: "ringing", afterMs: 100 }]);
  caller.say(`A person please, ${ref}`);
  await caller.until("transfer_status", (m) => m.state === "ringing");
  return { caller, signedIn };
}

/** A transfer the person answered, then the caller gone and the app restarted. */
async function restartedMidCall(app: TransferApp) {
  const { caller, signedIn } = await ringingTransfer(app);
  const [call] = await twilioCalls(app.twilio, signedIn.sessionId);
  if (!call) throw new Error("no call");
  await humanAnswer(app.twilio, call.sid);
  await caller.until("transfer_status", (m) => m.state === "connected", 10_000);
  caller.close();
  await app.restart();
  return { call, signedIn };
}

const row = async (app: TransferApp, sessionId: string) =>
  (await app.db.select().from(transfers).where(eq(transfers.sessionId, sessionId)))[0];

describe("transfer across a restart", () => {
  it("mid-ring: the caller reconnects to a ringing transfer, which then connects", async () => {
    const { caller, signedIn } = await ringingTransfer(app);
    caller.close();
    await app.restart();
    const back = await NodeCaller.resume(app.url, signedIn.sessionId, signedIn.resumeToken);
    expect(await back.caller.until("transfer_status")).toMatchObject({ state: "ringing" });

    const [call] = await twilioCalls(app.twilio, signedIn.sessionId);
    if (!call) throw new Error("no call");
    await humanAnswer(app.twilio, call.sid);
    await back.caller.until("transfer_status", (m) => m.state === "connected", 10_000);
    await waitForCall(app.twilio, signedIn.sessionId, (c) => c.stream?.accepted === true);
    back.caller.send({ type: "cancel_transfer" });
    await back.caller.until("transfer_status", (m) => m.state === "ended");
    await expect.poll(async () => (await row(app, signedIn.sessionId))?.status).toBe("ended");
    back.caller.close();
  }, 60_000);

  it("mid-call: the stream cannot survive a restart; the caller is told the line dropped", async () => {
    const { signedIn } = await restartedMidCall(app);
    // With our stream gone Twilio hangs up and says "completed": refused while the app was down,
    // or taken by the restarted one. Either way that was before the caller came back.
    await waitForCall(app.twilio, signedIn.sessionId, (c) =>
      c.callbacks.some((callback) => callback.CallStatus === "completed"),
    );
    const back = await NodeCaller.resume(app.url, signedIn.sessionId, signedIn.resumeToken);
    expect(await back.caller.until("transfer_status")).toMatchObject({
      state: "ended",
      outcome: "dropped",
      text: "The line to the agent dropped.",
    });
    // Said when the transfer ended: before the resume (in its transcript) or just after it.
    const said =
      back.signedIn.transcript.find((entry) => BACK_WITH_YOU.test(entry.text)) ??
      (await back.caller.until("transcript", (m) => BACK_WITH_YOU.test(m.entry.text))).entry;
    expect(said.text).toMatch(BACK_WITH_YOU);
    await expect.poll(async () => (await row(app, signedIn.sessionId))?.status).toBe("ended");
    back.caller.close();
  }, 60_000);

  it("mid-call, Twilio's hang-up reaches the restarted app first: told the line dropped once back", async () => {
    const { call, signedIn } = await restartedMidCall(lateHangUpApp);
    await humanHangUp(lateHangUpApp.twilio, call.sid);
    await waitForCall(lateHangUpApp.twilio, signedIn.sessionId, (c) =>
      c.callbacks.some(
        (callback) => callback.CallStatus === "completed" && callback.httpStatus === 204,
      ),
    );
    await expect
      .poll(async () => (await row(lateHangUpApp, signedIn.sessionId))?.status)
      .toBe("ended");
    // Ended while the caller was away: a stream lost to the restart, not the person hanging up.
    const back = await NodeCaller.resume(
      lateHangUpApp.url,
      signedIn.sessionId,
      signedIn.resumeToken,
    );
    expect(await back.caller.until("transfer_status")).toMatchObject({
      state: "ended",
      outcome: "dropped",
      text: "The line to the agent dropped.",
    });
    expect(back.signedIn.transcript.some((entry) => BACK_WITH_YOU.test(entry.text))).toBe(true);
    back.caller.close();
  }, 60_000);
});
