import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import type { SessionRecord } from "../../durable-objects/session-store.ts";
import { newTransfer, type Transfer } from "../../transfer/state.ts";
import { callSessions } from "../../worker/db/schema.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { SessionSocket, signIn, stubFor } from "./support/session-socket.ts";
import { createUser, db } from "./support/users.ts";

async function resume(sessionId: string, token: string) {
  const socket = await SessionSocket.open({ session: sessionId });
  expect(await socket.next("hello")).toMatchObject({ expect: "resume" });
  socket.send({ type: "resume", token });
  return socket;
}

describe("resume", () => {
  it("lands on the same object with its state, and rotates the token", async () => {
    const user = await createUser();
    await scriptClaude(inject("anthropicBaseUrl"), user.name, [{ kind: "text", text: "Noted." }]);
    const { socket, signedIn } = await signIn(user.pin);
    socket.send({ type: "user_text", id: "m1", text: "remember this" });
    await socket.next("transcript");
    while ((await socket.nextAny()).type !== "assistant_done") {
      // the reply streams in
    }
    socket.close();

    const again = await resume(signedIn.sessionId, signedIn.resumeToken);
    const resumed = await again.next("signed_in");
    expect(resumed.resumed).toBe(true);
    expect(resumed.sessionId).toBe(signedIn.sessionId);
    expect(resumed.user.name).toBe(user.name);
    expect(resumed.transcript.map((e) => e.text)).toEqual(["remember this", "Noted."]);
    expect(resumed.resumeToken).not.toBe(signedIn.resumeToken);
    again.close();

    // The old token is spent.
    const stale = await resume(signedIn.sessionId, signedIn.resumeToken);
    expect(await stale.next("session_ended")).toMatchObject({ reason: "expired" });
    expect(await stale.waitForClose()).toBe(4004);
  });

  it("survives the object being evicted from memory", async () => {
    const user = await createUser();
    const { socket, signedIn } = await signIn(user.pin);
    socket.close();
    await socket.waitForClose();
    // Rejects if the object is not running: this really tears down the instance.
    await evictDurableObject(stubFor(signedIn.sessionId));
    const again = await resume(signedIn.sessionId, signedIn.resumeToken);
    expect((await again.next("signed_in")).user.name).toBe(user.name);
    again.close();
  });

  it("refuses a wrong token", async () => {
    const user = await createUser();
    const { socket, signedIn } = await signIn(user.pin);
    socket.close();
    const wrong = await resume(signedIn.sessionId, "A".repeat(43));
    expect(await wrong.next("session_ended")).toMatchObject({ reason: "expired" });
    expect(await wrong.waitForClose()).toBe(4004);
    // A wrong guess does not spend the right token.
    const right = await resume(signedIn.sessionId, signedIn.resumeToken);
    await right.next("signed_in");
    right.close();
  });

  it("refuses a token after the ten-minute window, and the alarm ends the session", async () => {
    const user = await createUser();
    const { socket, signedIn } = await signIn(user.pin);
    socket.close();
    const stub = stubFor(signedIn.sessionId);
    // Wait for the object to record the disconnect, then move it eleven minutes back.
    await expect
      .poll(() =>
        runInDurableObject(
          stub,
          (_i, state) => state.storage.kv.get<SessionRecord>("session")?.disconnectedAt,
        ),
      )
      .not.toBeNull();
    await runInDurableObject(stub, (_i, state) => {
      const record = state.storage.kv.get<SessionRecord>("session");
      if (!record) throw new Error("no session");
      state.storage.kv.put("session", { ...record, disconnectedAt: Date.now() - 11 * 60_000 });
    });
    // Eleven minutes without a caller: the object has long left memory, and wakes from storage.
    await evictDurableObject(stub);
    const late = await resume(signedIn.sessionId, signedIn.resumeToken);
    expect(await late.next("session_ended")).toMatchObject({ reason: "expired" });
    await late.waitForClose();

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const [row] = await db()
      .select()
      .from(callSessions)
      .where(eq(callSessions.id, signedIn.sessionId));
    expect(row?.endReason).toBe("expired");
    expect(
      await runInDurableObject(stub, (_i, state) => state.storage.kv.get("session")),
    ).toBeUndefined();
  });

  it("tells a caller back after a restart of a transfer that ended just before it, once", async () => {
    const user = await createUser();
    const { socket, signedIn } = await signIn(user.pin);
    socket.close();
    await socket.waitForClose();
    const stub = stubFor(signedIn.sessionId);
    // As a runtime leaves it when it stops between a transfer's end and telling the caller: the
    // end and its hand-back mark are one commit, the words and the assistant's note never came.
    const connectedAt = Date.now() - 30_000;
    const transfer: Transfer = {
      ...newTransfer({
        id: crypto.randomUUID(),
        department: "support",
        extension: "2001",
        agent: { id: crypto.randomUUID(), name: "Sam Rivera" },
        reason: "A charge",
        at: connectedAt - 10_000,
      }),
      state: "ended",
      callSid: `CA${"0".repeat(32)}`,
      streamSid: `MZ${"0".repeat(32)}`,
      connectedAt,
      answeredAt: connectedAt,
      endedAt: Date.now(),
      outcome: "dropped",
    };
    await runInDurableObject(stub, (_i, state) => {
      state.storage.kv.put("transfer", transfer);
      state.storage.kv.put("transferHandBack", transfer.id);
    });
    await evictDurableObject(stub);

    const back = await resume(signedIn.sessionId, signedIn.resumeToken);
    const resumed = await back.next("signed_in");
    expect(await back.next("transfer_status")).toMatchObject({
      state: "ended",
      outcome: "dropped",
      text: "The line to the agent dropped.",
    });
    const said = await back.next("transcript");
    expect(said.entry.text).toBe(
      "The line to the agent dropped. I'm back with you — is there anything else I can do?",
    );
    back.close();
    await back.waitForClose();

    // Told once: a second return finds it in the transcript, and nothing said again.
    const again = await resume(signedIn.sessionId, resumed.resumeToken);
    const transcript = (await again.next("signed_in")).transcript.map((e) => e.text);
    expect(transcript.filter((text) => text === said.entry.text)).toHaveLength(1);
    expect(
      await runInDurableObject(stub, (_i, state) => state.storage.kv.get("transferHandBack")),
    ).toBeUndefined();
    again.close();
  });

  it("replaces an older connection that is still open", async () => {
    const user = await createUser();
    const { socket, signedIn } = await signIn(user.pin);
    const again = await resume(signedIn.sessionId, signedIn.resumeToken);
    await again.next("signed_in");
    expect(await socket.next("session_ended")).toMatchObject({ reason: "replaced" });
    expect(await socket.waitForClose()).toBe(4001);
    again.close();
  });

  it("refuses malformed session ids, plain requests and other sites at the Worker", async () => {
    const { exports } = await import("cloudflare:workers");
    const bad = await exports.default.fetch("http://convonet.test/ws?session=nope", {
      headers: { upgrade: "websocket" },
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: "Malformed session id." });
    const plain = await exports.default.fetch("http://convonet.test/ws");
    expect(plain.status).toBe(426);
    for (const origin of ["https://evil.example", "null"]) {
      const crossSite = await exports.default.fetch("http://convonet.test/ws", {
        headers: { upgrade: "websocket", origin },
      });
      expect(crossSite.status).toBe(403);
    }
    const sameSite = await exports.default.fetch("http://convonet.test/ws", {
      headers: { upgrade: "websocket", origin: "http://convonet.test" },
    });
    expect(sameSite.status).toBe(101);
    sameSite.webSocket?.accept();
    sameSite.webSocket?.close();
  });

  it("ends the session on hang-up and records it", async () => {
    const user = await createUser();
    const { socket, signedIn } = await signIn(user.pin);
    socket.send({ type: "hang_up" });
    expect(await socket.next("session_ended")).toMatchObject({ reason: "hang_up" });
    expect(await socket.waitForClose()).toBe(1000);
    const [row] = await db()
      .select()
      .from(callSessions)
      .where(eq(callSessions.id, signedIn.sessionId));
    expect(row?.endReason).toBe("hang_up");
    expect(row?.endedAt).toBeInstanceOf(Date);
    const after = await resume(signedIn.sessionId, signedIn.resumeToken);
    await after.next("session_ended");
  });
});
