import { describe, expect, it } from "vitest";
import { AGENT_NOT_CONFIGURED } from "../../durable-objects/conversation.ts";
import { SessionSocket } from "../workers/support/session-socket.ts";
import { createUser } from "../workers/support/users.ts";

describe("without an Anthropic key", () => {
  it("says plainly that the assistant is not configured and how to set it", async () => {
    const user = await createUser();
    const socket = await SessionSocket.open();
    await socket.next("hello");
    socket.send({ type: "sign_in", pin: user.pin });
    await socket.next("signed_in");
    const notice = await socket.next("notice");
    expect(notice).toMatchObject({ code: "agent_not_configured", level: "warning" });
    expect(notice.text).toBe(AGENT_NOT_CONFIGURED);
    expect(notice.text).toMatch(/ANTHROPIC_API_KEY/);

    socket.send({ type: "user_text", id: "1", text: "add milk" });
    expect((await socket.next("transcript")).entry.text).toBe("add milk");
    expect((await socket.next("notice")).code).toBe("agent_not_configured");
    // Nothing pretends to be Claude.
    socket.send({ type: "ping", t: 1 });
    expect((await socket.next("pong")).t).toBe(1);
    socket.close();
  });
});
