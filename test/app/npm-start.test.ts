/**
 * The app as `npm start` runs it. A runtime that stops with callers connected runs none of
 * their close handlers: their sessions must still be resumable within the window and not after
 * it, and end (recorded as ended) once it has passed. And no key reaches a command line.
 */
import { readdirSync, readFileSync } from "node:fs";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callSessions } from "../../worker/db/schema.ts";
import { NodeCaller } from "../support/node-caller.ts";
import {
  startTransferApp,
  type TransferApp,
  TWILIO_TOKEN,
} from "../transfer/support/transfer-app.ts";

// Long enough to outlast a restart on a slow machine, short enough for a test.
const WINDOW_S = 15;
let app: TransferApp;

beforeAll(async () => {
  app = await startTransferApp({ RESUME_WINDOW_SECONDS: String(WINDOW_S) });
}, 120_000);

afterAll(async () => {
  await app?.close();
}, 30_000);

describe("sessions connected when the runtime stops", () => {
  it("are resumable within the window, refused after it, and end on their own", async () => {
    const soon = await NodeCaller.signIn(app.url, "1234");
    const late = await NodeCaller.signIn(app.url, "5678");
    await app.restart();
    soon.caller.close();
    late.caller.close();

    // Within the window: the session is there, with its state.
    const back = await NodeCaller.resume(
      app.url,
      soon.signedIn.sessionId,
      soon.signedIn.resumeToken,
    );
    expect(back.signedIn.resumed).toBe(true);
    back.caller.close();

    // After it: refused, and the session ended by its own alarm.
    const lateId = late.signedIn.sessionId;
    await expect
      .poll(
        async () =>
          (await app.db.select().from(callSessions).where(eq(callSessions.id, lateId)))[0]
            ?.endReason,
        { timeout: (WINDOW_S + 10) * 1000, interval: 250 },
      )
      .toBe("expired");
    const refused = await NodeCaller.open(app.url, lateId);
    refused.send({ type: "resume", token: late.signedIn.resumeToken });
    expect(await refused.until("session_ended")).toMatchObject({ reason: "expired" });
  }, 60_000);
});

describe("secrets", () => {
  it("never appear on a command line, where anyone on the machine could read them", () => {
    const secrets = [TWILIO_TOKEN, "test-anthropic-key", "test-deepgram-key"];
    const leaks: string[] = [];
    let wranglers = 0;
    for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      } catch {
        continue; // gone meanwhile
      }
      if (cmdline.includes("wrangler.js dev")) wranglers += 1;
      for (const secret of secrets) if (cmdline.includes(secret)) leaks.push(`${pid}: ${secret}`);
    }
    // The app under test is running (its settings include these keys) while we look.
    expect(wranglers).toBeGreaterThan(0);
    expect(leaks).toEqual([]);
  });
});
