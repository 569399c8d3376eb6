/**
 * Against the real Anthropic API: runs only with ANTHROPIC_API_KEY set (it costs a few
 * tokens), so `npm test` needs no credentials. Checks that our adapter streams a real reply,
 * that Claude calls our tool schemas the way the agent expects, and that a session's second
 * turn reads the tools and instructions from Claude's prompt cache.
 */
import { describe, expect, it } from "vitest";
import { createAnthropicModel } from "../../agent/llm/anthropic.ts";
import type { ModelEvent } from "../../agent/llm/types.ts";
import { buildSystemPrompt } from "../../agent/system-prompt.ts";
import { TOOLS, toAnthropicTools } from "../../agent/tools/index.ts";

const key = process.env.ANTHROPIC_API_KEY;
const model = process.env.ANTHROPIC_MODEL || "claude-haiku-4-5";
/**
 * Anthropic caches nothing under a model's minimum prefix: 4096 tokens for Haiku 4.5, 1024 for
 * Sonnet 4.5. Our tools and instructions are about 3 000 tokens, so the cache check runs on a
 * model where they qualify unless told otherwise.
 */
const cacheModel = process.env.ANTHROPIC_CACHE_MODEL || "claude-sonnet-4-5";
const alice = {
  name: "Alice Nguyen",
  timezone: "America/New_York",
  teams: [{ name: "Operations", role: "owner" }],
};
if (!key) console.warn("Skipping the live Anthropic test: ANTHROPIC_API_KEY is not set.");

describe.skipIf(!key)("live Anthropic API", () => {
  it("streams a reply and calls create_todo for a todo request", async () => {
    const claude = createAnthropicModel({ apiKey: key ?? "", model });
    const events: ModelEvent[] = [];
    for await (const event of claude.stream(
      {
        system: buildSystemPrompt(alice, new Date()),
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

  it("reads the tools and the stable instructions from the prompt cache on the next turn", async () => {
    const claude = createAnthropicModel({ apiKey: key ?? "", model: cacheModel });
    const tools = toAnthropicTools(TOOLS);
    const usageOf = async (now: Date, text: string) => {
      for await (const event of claude.stream(
        {
          system: buildSystemPrompt(alice, now),
          messages: [{ role: "user", content: text }],
          tools,
          maxTokens: 64,
        },
        AbortSignal.timeout(30_000),
      )) {
        if (event.type === "done") return event.usage;
      }
      return undefined;
    };
    const first = await usageOf(new Date(), "Say hello in three words.");
    // A later turn: another time block and other words after the cached prefix.
    const second = await usageOf(new Date(Date.now() + 60_000), "Say goodbye in three words.");
    expect(
      (first?.cacheCreationInputTokens ?? 0) + (first?.cacheReadInputTokens ?? 0),
      `${cacheModel} cached nothing: is the prefix under its minimum?`,
    ).toBeGreaterThan(0);
    expect(second?.cacheReadInputTokens).toBeGreaterThan(0);
  }, 60_000);
});
