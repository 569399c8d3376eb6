import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { CallSession } from "../../durable-objects/call-session.ts";
import type { SessionRecord } from "../../durable-objects/session-store.ts";
import { PROTOCOL_VERSION } from "../../protocol/messages.ts";
import { callSessions } from "../../worker/db/schema.ts";
import { SessionSocket, signIn, uniqueIp } from "./support/session-socket.ts";
import { createUser, db } from "./support/users.ts";

describe("sign-in", () => {
  it("greets with the protocol version, then signs in with a correct PIN", async () => {
    const user = await createUser({ name: "Dana Scully", team: "X-Files" });
    const socket = await SessionSocket.open();
    const hello = await socket.next("hello");
    expect(hello).toEqual({ type: "hello", protocol: PROTOCOL_VERSION, expect: "sign_in" });

    socket.send({ type: "sign_in", pin: user.pin });
    const signedIn = await socket.next("signed_in");
    expect(signedIn.user.name).toBe("Dana Scully");
    expect(signedIn.user.teams).toEqual([
      { name: expect.stringMatching(/^X-Files /), role: "admin" },
    ]);
    expect(signedIn.sessionId).toMatch(/^[0-9a-f]{64}$/);
    expect(signedIn.resumeToken.length).toBeGreaterThanOrEqual(40);
    expect(signedIn.resumed).toBe(false);
    expect(JSON.stringify(signedIn)).not.toContain(user.pin);

    const [row] = await db()
      .select()
      .from(callSessions)
      .where(eq(callSessions.id, signedIn.sessionId));
    expect(row?.userId).toBe(user.id);
    socket.close();
  });

  it("keeps the session in the object's own storage, with only a hash of the resume token", async () => {
    const user = await createUser();
    const { socket, signedIn } = await signIn(user.pin);
    const stub = env.CALL_SESSION.get(env.CALL_SESSION.idFromString(signedIn.sessionId));
    const stored = await runInDurableObject(stub, (_instance: CallSession, state) =>
      state.storage.kv.get<SessionRecord>("session"),
    );
    expect(stored?.user.id).toBe(user.id);
    expect(stored?.sessionId).toBe(signedIn.sessionId);
    expect(stored?.disconnectedAt).toBeNull();
    expect(stored?.resumeTokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(signedIn.resumeToken);
    socket.close();
  });

  it("rejects a wrong PIN with the tries left, and the session stays usable", async () => {
    const user = await createUser();
    const socket = await SessionSocket.open();
    await socket.next("hello");
    socket.send({ type: "sign_in", pin: "0000000" });
    expect(await socket.next("pin_rejected")).toMatchObject({ attemptsLeft: 4 });
    socket.send({ type: "sign_in", pin: user.pin });
    expect((await socket.next("signed_in")).user.name).toBe(user.name);
    socket.close();
  });

  it("refuses inactive users as if the PIN were wrong", async () => {
    const user = await createUser({ active: false });
    const socket = await SessionSocket.open();
    await socket.next("hello");
    socket.send({ type: "sign_in", pin: user.pin });
    await socket.next("pin_rejected");
    socket.close();
  });

  it("closes the session after five wrong PINs", async () => {
    const user = await createUser();
    const socket = await SessionSocket.open();
    await socket.next("hello");
    for (let left = 4; left >= 1; left--) {
      socket.send({ type: "sign_in", pin: "9999999" });
      expect((await socket.next("pin_rejected")).attemptsLeft).toBe(left);
    }
    socket.send({ type: "sign_in", pin: "9999999" });
    expect(await socket.next("session_ended")).toMatchObject({ reason: "locked_out" });
    expect(await socket.waitForClose()).toBe(4003);
    // The right PIN in a fresh session still works: the lockout is per session.
    const again = await signIn(user.pin);
    again.socket.close();
  });

  it("throttles PIN attempts per client address across sessions", async () => {
    const user = await createUser();
    const ip = uniqueIp();
    // 20 tries per window: four sessions of five wrong PINs use them all.
    for (let s = 0; s < 4; s++) {
      const socket = await SessionSocket.open({ ip });
      await socket.next("hello");
      for (let i = 0; i < 5; i++) {
        socket.send({ type: "sign_in", pin: "1111111" });
        await socket.next(i < 4 ? "pin_rejected" : "session_ended");
      }
      await socket.waitForClose();
    }
    const socket = await SessionSocket.open({ ip });
    await socket.next("hello");
    socket.send({ type: "sign_in", pin: user.pin });
    const error = await socket.next("error");
    expect(error.code).toBe("throttled");
    expect(error.message).toMatch(/Try again in \d+ minutes?/);
    // Another client is not affected.
    const other = await signIn(user.pin);
    other.socket.close();
    socket.close();
  });

  it("does not count correct PINs against the client", async () => {
    const user = await createUser();
    const ip = uniqueIp();
    for (let i = 0; i < 22; i++) {
      const { socket } = await signIn(user.pin, ip);
      socket.close();
    }
    const wrong = await SessionSocket.open({ ip });
    await wrong.next("hello");
    wrong.send({ type: "sign_in", pin: "1111111" });
    expect((await wrong.next("pin_rejected")).attemptsLeft).toBe(4);
    wrong.close();
  });

  it("checks one PIN at a time per connection", async () => {
    const user = await createUser();
    const socket = await SessionSocket.open();
    await socket.next("hello");
    socket.send({ type: "sign_in", pin: user.pin });
    socket.send({ type: "sign_in", pin: user.pin });
    const first = await socket.next("error");
    expect(first.message).toMatch(/already being checked/);
    await socket.next("signed_in");
    socket.close();
  });
});
