/**
 * Prompt caching through our adapter (agent/llm/anthropic.ts) against the fake Messages API:
 * the tool definitions and the session's stable instructions carry breakpoints, the time does
 * not, so a session's second turn reads them from the cache. The fake checks the shapes as
 * Anthropic does; test/live/anthropic.test.ts checks the real cache when a key is set.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAnthropicModel } from "../../../agent/llm/anthropic.ts";
import type { ModelRequest, ModelUsage } from "../../../agent/llm/types.ts";
import { buildSystemPrompt } from "../../../agent/system-prompt.ts";
import { TOOLS, toAnthropicTools } from "../../../agent/tools/index.ts";
import { claudeRequests, scriptClaude } from "./client.ts";
import { type FakeAnthropic, startFakeAnthropic } from "./server.ts";

const KEY = "test-anthropic-key";
let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(() => fake.close());

const tools = toAnthropicTools(TOOLS);

function request(name: string, now: Date, text: string): ModelRequest {
  return {
    system: buildSystemPrompt({ name, timezone: "Europe/Paris", teams: [] }, now),
    messages: [{ role: "user", content: text }],
    tools,
    maxTokens: 100,
  };
}

async function usageOf(name: string, now: Date, text: string): Promise<ModelUsage | undefined> {
  const claude = createAnthropicModel({ apiKey: KEY, model: "claude-test", baseURL: fake.url });
  for await (const event of claude.stream(request(name, now, text), AbortSignal.timeout(5_000))) {
    if (event.type === "done") return event.usage;
  }
  return undefined;
}

describe("prompt caching", () => {
  it("marks the last tool and the stable instructions, and the next turn reads them back", async () => {
    const name = `Cache ${crypto.randomUUID().slice(0, 8)}`;
    await scriptClaude(fake.url, name, [
      { kind: "text", text: "Hello." },
      { kind: "text", text: "Hello again." },
    ]);
    const first = await usageOf(name, new Date("2026-11-24T09:00:00Z"), "hi");
    // A turn later: another time of day, other words; the same tools and instructions.
    const second = await usageOf(name, new Date("2026-11-24T09:07:00Z"), "what's on today?");

    const [body] = (await claudeRequests(fake.url, name)).map((r) => r.body) as {
      system: { text: string; cache_control?: unknown }[];
      tools: { name: string; cache_control?: unknown }[];
    }[];
    expect(body?.tools.at(-1)?.cache_control).toEqual({ type: "ephemeral" });
    expect(body?.tools.slice(0, -1).some((t) => t.cache_control)).toBe(false);
    expect(body?.system).toEqual([
      { type: "text", text: expect.stringContaining(name), cache_control: { type: "ephemeral" } },
      { type: "text", text: expect.stringMatching(/^It is now .*2026-11-24/) },
    ]);
    // The first turn wrote the tools and the instructions (about 11 KB) to the cache…
    expect(first?.cacheCreationInputTokens).toBeGreaterThan(2_500);
    expect(first?.cacheReadInputTokens).toBe(0);
    // …the second read all of it, and paid full price only for the time and the messages.
    expect(second?.cacheReadInputTokens).toBe(first?.cacheCreationInputTokens);
    expect(second?.cacheCreationInputTokens).toBe(0);
    expect(second?.inputTokens).toBeLessThan(200);
  });

  it("another caller's session still reads the tool definitions from the cache", async () => {
    const name = `Other ${crypto.randomUUID().slice(0, 8)}`;
    await scriptClaude(fake.url, name, [{ kind: "text", text: "Hi." }]);
    const usage = await usageOf(name, new Date(), "hello");
    expect(usage?.cacheReadInputTokens).toBeGreaterThan(2_000);
    // Its own instructions are new: written now, read on its next turn.
    expect(usage?.cacheCreationInputTokens).toBeGreaterThan(200);
  });

  it("refuses what Anthropic refuses: a fifth breakpoint, or one of an unknown type", async () => {
    await scriptClaude(fake.url, "cache-shapes", [{ kind: "text", text: "Hi." }]);
    const post = (body: Record<string, unknown>) =>
      fetch(`${fake.url}/v1/messages`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-api-key": KEY,
          "anthropic-version": "2023-06-01",
        },
        body: JSON.stringify({ model: "m", max_tokens: 10, ...body }),
      });
    const marked = (text: string) => ({
      type: "text",
      text,
      cache_control: { type: "ephemeral" },
    });
    const five = await post({
      system: ["a", "b", "c", "d", "e"].map(marked),
      messages: [{ role: "user", content: "cache-shapes" }],
    });
    expect(five.status).toBe(400);
    expect(await five.json()).toMatchObject({
      error: { type: "invalid_request_error", message: expect.stringContaining("maximum of 4") },
    });
    const unknown = await post({
      system: [{ type: "text", text: "x", cache_control: { type: "forever" } }],
      messages: [{ role: "user", content: "cache-shapes" }],
    });
    expect(unknown.status).toBe(400);
    const ok = await post({
      system: [marked("x")],
      messages: [{ role: "user", content: "cache-shapes" }],
    });
    expect(ok.status).toBe(200);
  });
});
