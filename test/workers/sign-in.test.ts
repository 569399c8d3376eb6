import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { CallSession } from "../../durable-objects/call-session.ts";
import type { SessionRecord } from "../../durable-objects/session-store.ts";
import { SignInLimits } from "../../durable-objects/sign-in-limits.ts";
import { PROTOCOL_VERSION } from "../../protocol/messages.ts";
import { config } from "../../worker/config.ts";
import { callSessions } from "../../worker/db/schema.ts";
import {
  openSignIn,
  spendWrongPins,
  uniqueIpv4,
  uniqueIpv6Prefix48,
} from "./support/pin-callers.ts";
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

  it("refuses PINs from an address after 20 wrong ones across its sessions, saying how long", async () => {
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

  it("counts only wrong PINs: 22 sign-ins from an address leave its wrong-PIN tries untouched", async () => {
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

  it("signs a session in once: a second PIN on a signed-in session is refused", async () => {
    const user = await createUser();
    const { socket } = await signIn(user.pin);
    socket.send({ type: "sign_in", pin: user.pin });
    expect(await socket.next("error")).toMatchObject({ code: "already_signed_in" });
    socket.close();
  });
});

describe("PIN limits: what the caller is told", () => {
  it("says the fewer of the session's and the address's tries left, then the wait, never a surprise refusal", async () => {
    const ip = uniqueIpv4();
    const stranger = await createUser();
    await spendWrongPins(ip, 18);
    const socket = await openSignIn(ip);
    socket.send({ type: "sign_in", pin: "7654321" });
    // The session has 4 left, the address 1: the caller hears 1.
    expect(await socket.next("pin_rejected")).toMatchObject({ attemptsLeft: 1 });
    socket.send({ type: "sign_in", pin: "7654322" });
    expect(await socket.next("error")).toEqual({
      type: "error",
      code: "throttled",
      message:
        "That PIN didn't match, and that was the last try from your network for now. Try again in 15 minutes.",
      fatal: false,
    });
    // After "no tries left", a correct PIN is refused with the wait, as it was told.
    socket.send({ type: "sign_in", pin: stranger.pin });
    expect(await socket.next("error")).toMatchObject({
      code: "throttled",
      message: "Too many wrong PINs from your network. Try again in 15 minutes.",
    });
    socket.close();
  });

  it.each([
    ["nobody", false],
    ["another account", true],
  ])(
    "refuses a correct PIN of an account new to a throttled address exactly as a wrong one (no oracle; %s known there)",
    async (_, someoneKnown) => {
      const ip = uniqueIpv4();
      const stranger = await createUser();
      if (someoneKnown) (await signIn((await createUser()).pin, ip)).socket.close();
      await spendWrongPins(ip, 20);
      const socket = await openSignIn(ip);
      socket.send({ type: "sign_in", pin: stranger.pin });
      const right = await socket.next("error");
      socket.send({ type: "sign_in", pin: "7654321" });
      const wrong = await socket.next("error");
      expect(right).toEqual(wrong);
      expect(right.code).toBe("throttled");
      socket.close();
    },
  );
});

describe("PIN limits: address buckets", () => {
  it("counts every address of one IPv6 /64 together, however it is written, and no other /64", async () => {
    const prefix48 = uniqueIpv6Prefix48();
    const user = await createUser();
    let host = 0;
    // 20 wrong PINs, each session from another interface id of the same /64.
    await spendWrongPins(() => `${prefix48}:1:${(++host).toString(16)}:0:0:1`, 20);
    const sameNet = await openSignIn(`${prefix48.toUpperCase()}:0001:ffff::abcd`);
    sameNet.send({ type: "sign_in", pin: user.pin });
    expect(await sameNet.next("error")).toMatchObject({ code: "throttled" });
    sameNet.close();
    // The next /64 of the same /48 has its own count.
    const { socket } = await signIn(user.pin, `${prefix48}:2::1`);
    socket.close();
  });

  it("limits an IPv6 /48 as a whole across its /64s", async () => {
    const prefix48 = uniqueIpv6Prefix48();
    const limits = (address: string) =>
      new SignInLimits({
        throttles: env.PIN_THROTTLE,
        config: { ...config(env), pinThrottlePrefix48MaxFailures: 6 },
        clientAddress: address,
        globalName: `pin:global-test-${crypto.randomUUID()}`,
        background: (_label, work) => void work(),
      });
    // Two /64s use three tries each: the /48 has none left, though each /64 has 17.
    for (const net of [1, 2]) {
      for (let i = 0; i < 3; i++) {
        expect((await limits(`${prefix48}:${net}::${i + 1}`).settle(null)).kind).toBe("wrong_pin");
      }
    }
    expect(await limits(`${prefix48}:3::1`).settle(null)).toMatchObject({
      kind: "refused",
      scope: "network",
    });
    expect(await limits(`${prefix48}:3::1`).settle(crypto.randomUUID())).toMatchObject({
      kind: "refused",
    });
    // Another /48 is not affected.
    expect((await limits(`${uniqueIpv6Prefix48()}::1`).settle(null)).kind).toBe("wrong_pin");
  });
});

describe("PIN limits: per account", () => {
  /**
   * Sign-in is PIN-only, so a wrong PIN is a guess at every account at once: the per-account
   * failure count is the service-wide one. Here with a budget of 5 in a 2 s window, and a
   * service-wide counter of the test's own, so no other test is locked out.
   */
  it("locks every account for networks it has not used once the service's wrong-PIN budget is spent, invisibly to its user, no oracle, and it expires", async () => {
    const globalName = `pin:global-test-${crypto.randomUUID()}`;
    const limits = (address: string) =>
      new SignInLimits({
        throttles: env.PIN_THROTTLE,
        config: { ...config(env), pinGlobalMaxFailures: 5, pinGlobalWindowMs: 2_000 },
        clientAddress: address,
        globalName,
        background: (_label, work) => void work(),
      });
    const account = crypto.randomUUID();
    const home = uniqueIpv4();
    expect(await limits(home).settle(account)).toEqual({ kind: "signed_in" });

    // Five wrong PINs from five networks: the last one is told it was the service's last.
    const verdicts = [];
    for (let i = 0; i < 5; i++) verdicts.push(await limits(uniqueIpv4()).settle(null));
    expect(verdicts.at(-1)).toMatchObject({
      kind: "wrong_pin",
      triesLeft: 0,
      limitedBy: "service",
    });

    // From a network the account has not used: its correct PIN reads as a wrong one would.
    const away = uniqueIpv4();
    const right = await limits(away).settle(account);
    const wrong = await limits(away).settle(null);
    expect(right).toMatchObject({ kind: "refused", scope: "service" });
    expect(wrong).toEqual(right);
    // From home, its user sees nothing of it.
    expect(await limits(home).settle(account)).toEqual({ kind: "signed_in" });

    // The window passes: the account signs in from anywhere again.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(await limits(uniqueIpv4()).settle(account)).toEqual({ kind: "signed_in" });
  });
});
