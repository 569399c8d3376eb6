/**
 * Against the real Anthropic API: runs only with ANTHROPIC_API_KEY set (it costs a few
 * tokens), so `npm test` needs no credentials. Checks that our adapter streams a real reply
 * and that Claude calls our tool schemas the way the agent expects.
 */
import { describe, expect, it } from "vitest";
import { createAnthropicModel } from "../../agent/llm/anthropic.ts";
import type { ModelEvent } from "../../agent/llm/types.ts";
import { buildSystemPrompt } from "../../agent/system-prompt.ts";
import { TOOLS, toAnthropicTools } from "../../agent/tools/index.ts";

const key = process.env.ANTHROPIC_API_KEY;
const model = process.env.ANTHROPIC_MODEL || "claude-haiku-4-5";
if (!key) console.warn("Skipping the live Anthropic test: ANTHROPIC_API_KEY is not set.");

describe.skipIf(!key)("live Anthropic API", () => {
  it("streams a reply and calls create_todo for a todo request", async () => {
    const claude = createAnthropicModel({ apiKey: key ?? "", model });
    const events: ModelEvent[] = [];
    for await (const event of claude.stream(
      {
        system: buildSystemPrompt(
          {
            name: "Alice Nguyen",
            timezone: "America/New_York",
            teams: [{ name: "Operations", role: "owner" }],
          },
          new Date(),
        ),
        messages: [
          { role: "user", content: "Add a high-priority todo to renew the domain by Friday." },
        ],
        tools: toAnthropicTools(TOOLS),
        maxTokens: 512,
      },
      AbortSignal.timeout(30_000),
    )) {
      events.push(event);
    }
    const done = events.at(-1);
    expect(done?.type).toBe("done");
    if (done?.type !== "done" || typeof done.content === "string")
      throw new Error("no final message");
    const call = done.content.find((b) => b.type === "tool_use");
    expect(call?.type === "tool_use" && call.name).toBe("create_todo");
    expect(call?.type === "tool_use" && JSON.stringify(call.input)).toMatch(/domain/i);
  }, 60_000);
});
