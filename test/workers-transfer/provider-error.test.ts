/**
 * Transfers when Twilio cannot be reached: this project's Worker has Twilio settings whose API
 * address answers nothing. The caller is told plainly, is back with the assistant, and the
 * `transfers` row records the provider error.
 */
import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import type { ServerMessageOf } from "../../protocol/messages.ts";
import { humanAgents, transfers } from "../../worker/db/schema.ts";
import { claudeRequests, scriptClaude } from "../fakes/anthropic/client.ts";
import { signIn } from "../workers/support/session-socket.ts";
import { createUser, db } from "../workers/support/users.ts";

describe("transfer with Twilio unreachable", () => {
  it("a Twilio API failure is said plainly and the caller stays with the assistant", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const department = `helpdesk-${tag}`;
    await db()
      .insert(humanAgents)
      .values({ name: `Agent ${tag}`, login: `agent-${tag}`, sipExtension: `8${tag}`, department });
    const user = await createUser({ name: `Caller ${tag}` });
    await scriptClaude(inject("anthropicBaseUrl"), user.name, [
      {
        kind: "tool_use",
        calls: [{ name: "transfer_to_agent", input: { department, reason: "help" } }],
      },
      { kind: "text", text: "Connecting you now." },
      { kind: "text", text: "Want me to try again?" },
    ]);
    const { socket, signedIn } = await signIn(user.pin);
    socket.send({ type: "user_text", id: "m1", text: "a person please" });
    const states: ServerMessageOf<"transfer_status">[] = [];
    let spoken: string | undefined;
    while (!spoken || states.at(-1)?.state !== "failed") {
      const message = await socket.nextAny(15_000);
      if (message.type === "transfer_status") states.push(message);
      if (message.type === "transcript" && message.entry.role === "assistant") {
        spoken = message.entry.text;
      }
    }
    expect(states.at(-1)).toMatchObject({
      outcome: "provider_error",
      text: "I couldn't place the call to the agent just now.",
    });
    expect(spoken).toMatch(/try again/);
    await expect
      .poll(async () => {
        const [row] = await db()
          .select()
          .from(transfers)
          .where(eq(transfers.sessionId, signedIn.sessionId));
        return row?.failureReason;
      })
      .toBe("provider_error");

    socket.send({ type: "user_text", id: "m2", text: "what happened?" });
    while ((await socket.nextAny(10_000)).type !== "assistant_done");
    const last = (await claudeRequests(inject("anthropicBaseUrl"), user.name)).at(-1);
    expect(JSON.stringify(last?.body)).toMatch(/failed \(provider error\)/);
    socket.close();
  });
});
