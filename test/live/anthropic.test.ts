/**
 * Against the real Anthropic API: runs only with ANTHROPIC_API_KEY set (it costs a few
 * tokens), so `npm test` needs no credentials. Checks that our adapter streams a real reply,
 * that Claude calls our tool schemas the way the agent expects, and that a call's next turn
 * reads the call so far from Claude's prompt cache on the model the product uses.
 */
import { describe, expect, it } from "vitest";
import { prepareForModel } from "../../agent/history.ts";
import { createAnthropicModel } from "../../agent/llm/anthropic.ts";
import type { MessageParam, ModelEvent } from "../../agent/llm/types.ts";
import { buildSystemPrompt, timeNote } from "../../agent/system-prompt.ts";
import { TOOLS, toAnthropicTools } from "../../agent/tools/index.ts";

const key = process.env.ANTHROPIC_API_KEY;
const model = process.env.ANTHROPIC_MODEL || "claude-haiku-4-5";
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
        system: buildSystemPrompt(alice),
        messages: prepareForModel([
          { role: "user", content: timeNote(alice, new Date()) },
          { role: "user", content: "Add a high-priority todo to renew the domain by Friday." },
        ]),
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

  it("reads the call so far from the prompt cache on the next turn", async () => {
    // Anthropic caches nothing under a model's minimum: 4096 tokens on Haiku 4.5, the product's
    // model. Our tools and instructions are about 3 000, so the first turn here is long (a list
    // read out), as a call is after a few turns.
    const claude = createAnthropicModel({ apiKey: key ?? "", model });
    const history: MessageParam[] = [];
    const turn = async (at: Date, words: string) => {
      history.push(
        { role: "user", content: timeNote(alice, at) },
        { role: "user", content: words },
      );
      for await (const event of claude.stream(
        {
          system: buildSystemPrompt(alice),
          messages: prepareForModel(history),
          tools: toAnthropicTools(TOOLS),
          maxTokens: 64,
        },
        AbortSignal.timeout(30_000),
      )) {
        if (event.type !== "done") continue;
        history.push({ role: "assistant", content: event.content });
        return event.usage;
      }
      return undefined;
    };
    const items = Array.from({ length: 250 }, (_, i) => `item ${i + 1}, a box of paper clips`);
    const first = await turn(
      new Date(),
      `Please just say "noted" to this list: ${items.join("; ")}.`,
    );
    // A minute later: another time, other words, after the cached call.
    const second = await turn(new Date(Date.now() + 60_000), "Say goodbye in three words.");
    expect(
      first?.cacheCreationInputTokens,
      `${model} cached nothing: is the call under its minimum?`,
    ).toBeGreaterThan(4_096);
    expect(second?.cacheReadInputTokens).toBeGreaterThanOrEqual(
      first?.cacheCreationInputTokens ?? 0,
    );
  }, 60_000);
});
