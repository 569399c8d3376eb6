import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SessionSocket, signIn } from "./support/session-socket.ts";
import { createUser } from "./support/users.ts";

// The Durable Objects run in the tests' isolate, so the console they log to is this one.
describe("logs", () => {
  const lines: string[] = [];
  beforeEach(() => {
    lines.length = 0;
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(" "));
      });
    }
  });
  afterEach(() => vi.restoreAllMocks());

  it("never contain a PIN or a resume token", async () => {
    const user = await createUser();
    // Seven digits: no test user has such a PIN (theirs have eight), so it is surely wrong.
    const wrongPin = "3141592";
    const wrong = await SessionSocket.open();
    await wrong.next("hello");
    for (let i = 0; i < 5; i++) {
      wrong.send({ type: "sign_in", pin: wrongPin });
      await wrong.next(i < 4 ? "pin_rejected" : "session_ended");
    }
    const { socket, signedIn } = await signIn(user.pin);
    socket.send({ type: "hang_up" });
    await socket.next("session_ended");

    const all = lines.join("\n");
    expect(lines.length).toBeGreaterThan(0);
    expect(all).not.toContain(user.pin);
    expect(all).not.toContain(wrongPin);
    expect(all).not.toContain(signedIn.resumeToken);
    expect(all).not.toContain(user.pinHash);
  });
});
