/**
 * Prompt caching through our adapter (agent/llm/anthropic.ts) against the fake Messages API,
 * which caches as Anthropic does (test/fakes/anthropic/server.ts), down to each model's
 * minimum: the tool definitions, the session's instructions and the last two user messages
 * carry breakpoints, and the time rides in each turn's input (agent/system-prompt.ts), so every
 * turn reads the whole conversation before it from the cache. test/live/anthropic.test.ts
 * checks the real cache when a key is set.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareForModel } from "../../../agent/history.ts";
import { createAnthropicModel } from "../../../agent/llm/anthropic.ts";
import type { MessageParam, ModelUsage } from "../../../agent/llm/types.ts";
import { buildSystemPrompt, timeNote } from "../../../agent/system-prompt.ts";
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

/**
 * A session with Claude as conversation.ts holds one: each turn adds the time and the words, and
 * each request is the history prepared as the graph prepares it (the two merged in one message).
 */
function session(name: string, model: string) {
  const claude = createAnthropicModel({ apiKey: KEY, model, baseURL: fake.url });
  const user = { name, timezone: "Europe/Paris", teams: [] };
  const history: MessageParam[] = [];
  return {
    history,
    async turn(at: Date, words: string): Promise<ModelUsage | undefined> {
      history.push({ role: "user", content: timeNote(user, at) }, { role: "user", content: words });
      const request = {
        system: buildSystemPrompt(user),
        messages: prepareForModel(history),
        tools,
        maxTokens: 100,
      };
      for await (const event of claude.stream(request, AbortSignal.timeout(5_000))) {
        if (event.type !== "done") continue;
        history.push({ role: "assistant", content: event.content });
        return event.usage;
      }
      return undefined;
    },
  };
}

const minutes = (n: number) => new Date(Date.parse("2026-11-24T09:00:00Z") + n * 60_000);

describe("prompt caching", () => {
  it("marks the last tool, the instructions and the conversation, and the next turn reads them back", async () => {
    const name = `Cache ${crypto.randomUUID().slice(0, 8)}`;
    await scriptClaude(fake.url, name, [
      { kind: "text", text: "Hello." },
      { kind: "text", text: "Hello again." },
    ]);
    const call = session(name, "claude-sonnet-4-5");
    const first = await call.turn(minutes(0), "hi");
    // Seven minutes later: another time, other words; the same tools, instructions and first turn.
    const second = await call.turn(minutes(7), "what's on today?");

    const [, body] = (await claudeRequests(fake.url, name)).map((r) => r.body) as {
      system: { text: string; cache_control?: unknown }[];
      tools: { name: string; cache_control?: unknown }[];
      messages: { role: string; content: { text?: string; cache_control?: unknown }[] }[];
    }[];
    expect(body?.tools.at(-1)?.cache_control).toEqual({ type: "ephemeral" });
    expect(body?.tools.slice(0, -1).some((t) => t.cache_control)).toBe(false);
    expect(body?.system).toEqual([
      { type: "text", text: expect.stringContaining(name), cache_control: { type: "ephemeral" } },
    ]);
    // The time and the words of each turn are one user message (merged, agent/history.ts); the
    // last block of each of the last two carries a breakpoint.
    const users = body?.messages.filter((m) => m.role === "user") ?? [];
    expect(users.map((m) => m.content.map((b) => b.cache_control ?? null))).toEqual([
      [null, { type: "ephemeral" }],
      [null, { type: "ephemeral" }],
    ]);
    expect(users[1]?.content[0]?.text).toMatch(/^<context>It is now .*10:07\s?am in Europe\/Paris/);
    // The first turn wrote the tools, the instructions and itself (about 11 KB) to the cache…
    expect(first?.cacheCreationInputTokens).toBeGreaterThan(2_500);
    expect(first?.cacheReadInputTokens).toBe(0);
    // …the second read all of it, and wrote only its own exchange.
    expect(second?.cacheReadInputTokens).toBe(first?.cacheCreationInputTokens);
    expect(second?.cacheCreationInputTokens).toBeLessThan(100);
    expect(second?.inputTokens).toBeLessThan(100);
  });

  it("on Haiku 4.5, caches nothing under its 4096 tokens, then each turn reads the whole call before it", async () => {
    const name = `Haiku ${crypto.randomUUID().slice(0, 8)}`;
    // Replies of about 300 tokens: the call passes Haiku's minimum on its fourth turn.
    const reply = (n: number) => `Answer ${n}: ${"here is what you asked about. ".repeat(40)}`;
    await scriptClaude(
      fake.url,
      name,
      [1, 2, 3, 4, 5, 6].map((n) => ({ kind: "text" as const, text: reply(n) })),
    );
    const call = session(name, "claude-haiku-4-5");
    const usage: (ModelUsage | undefined)[] = [];
    for (let n = 0; n < 6; n++) usage.push(await call.turn(minutes(n), `question ${n + 1}`));
    const read = usage.map((u) => u?.cacheReadInputTokens ?? 0);
    const written = usage.map((u) => u?.cacheCreationInputTokens ?? 0);
    // The tools and instructions (about 2 900 tokens) are under Haiku's minimum: no cache at first.
    expect(read[0]).toBe(0);
    expect(written[0]).toBe(0);
    // Once the call is past it, a turn writes it, and every later turn reads all of the call up
    // to its own words and writes only the exchange since.
    const firstWrite = written.findIndex((w) => w > 0);
    expect(firstWrite).toBeGreaterThan(0);
    expect(firstWrite).toBeLessThan(5);
    for (let n = firstWrite + 1; n < 6; n++) {
      expect(read[n], `turn ${n + 1}`).toBeGreaterThanOrEqual(
        (read[n - 1] ?? 0) + (written[n - 1] ?? 0),
      );
      expect(written[n], `turn ${n + 1}`).toBeLessThan(400);
      expect(usage[n]?.inputTokens, `turn ${n + 1}`).toBeLessThan(100);
    }
  });

  it("another caller's session still reads the tool definitions from the cache", async () => {
    const name = `Other ${crypto.randomUUID().slice(0, 8)}`;
    await scriptClaude(fake.url, name, [{ kind: "text", text: "Hi." }]);
    const usage = await session(name, "claude-sonnet-4-5").turn(new Date(), "hello");
    expect(usage?.cacheReadInputTokens).toBeGreaterThan(2_000);
    // Its own instructions and words are new: written now, read on its next turn.
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
