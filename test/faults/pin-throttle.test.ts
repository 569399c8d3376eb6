/**
 * The PIN limits under load and under attack, end to end through the Worker and the
 * CallSession objects: only wrong PINs count, so an address's callers are never locked out by
 * one another, nor — once they have signed in from there — by an attacker sharing it.
 */
import { describe, expect, it } from "vitest";
import { openSignIn, spendWrongPins, uniqueIpv4 } from "../workers/support/pin-callers.ts";
import { type SessionSocket, signIn } from "../workers/support/session-socket.ts";
import { createUser } from "../workers/support/users.ts";

describe("PIN throttle under load and attack", () => {
  it("50 callers signing in at once from one address with correct PINs all succeed", async () => {
    const ip = uniqueIpv4();
    const users = await Promise.all(Array.from({ length: 50 }, () => createUser()));
    const results = await Promise.allSettled(users.map((user) => signIn(user.pin, ip)));
    const signedIn = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    for (const { socket } of signedIn) socket.close();
    expect(results.filter((r) => r.status === "rejected").map((r) => String(r.reason))).toEqual([]);
    expect(new Set(signedIn.map((s) => s.signedIn.user.name))).toEqual(
      new Set(users.map((u) => u.name)),
    );
  }, 60_000);

  it("an attacker's wrong guesses below the address limit never lock out a correct PIN there", async () => {
    const ip = uniqueIpv4();
    const firstTimer = await createUser();
    await spendWrongPins(ip, 19);
    const { socket } = await signIn(firstTimer.pin, ip);
    socket.close();
  });

  it("a caller who signs in from an address keeps signing in there while an attacker exhausts it", async () => {
    const ip = uniqueIpv4();
    const regular = await createUser();
    (await signIn(regular.pin, ip)).socket.close();
    // 40 wrong guesses, eight sessions at once, with the regular caller signing in among them.
    const attack = spendWrongPins(ip, 40, { parallel: true });
    const during = signIn(regular.pin, ip);
    const answers = await attack;
    (await during).socket.close();
    // Only 20 of the 40 guesses were looked at; the rest were refused unchecked.
    expect(answers.filter((m) => m.includes("didn't match"))).toHaveLength(20);
    expect(
      answers.filter((m) => m.startsWith("Too many wrong PINs from your network")),
    ).toHaveLength(20);
    const after = await signIn(regular.pin, ip);
    after.socket.close();
  }, 30_000);

  it("concurrent wrong guesses cannot overshoot the address limit", async () => {
    const ip = uniqueIpv4();
    const sockets: SessionSocket[] = await Promise.all(
      Array.from({ length: 30 }, () => openSignIn(ip)),
    );
    for (const socket of sockets) socket.send({ type: "sign_in", pin: "1234567" });
    const answers = await Promise.all(sockets.map((s) => s.nextAny()));
    for (const socket of sockets) socket.close();
    const checked = answers.filter(
      (m) => m.type === "pin_rejected" || (m.type === "error" && /didn't match/.test(m.message)),
    );
    expect(checked).toHaveLength(20);
    expect(answers.filter((m) => m.type === "error" && m.code === "throttled")).toHaveLength(11);
  });
});
