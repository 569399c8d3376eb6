import Anthropic, { APIError, AuthenticationError } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeRequests, scriptClaude } from "./client.ts";
import { type FakeAnthropic, startFakeAnthropic } from "./server.ts";

let fake: FakeAnthropic;
let client: Anthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
  client = new Anthropic({ apiKey: "test-anthropic-key", baseURL: fake.url, maxRetries: 0 });
});
afterAll(() => fake.close());

const ask = (match: string) =>
  client.messages.stream({
    model: "claude-test",
    max_tokens: 100,
    messages: [{ role: "user", content: `[${match}] hello` }],
  });

describe("fake Anthropic API, driven by the real SDK", () => {
  it("streams text incrementally", async () => {
    await scriptClaude(fake.url, "text-1", [{ kind: "text", text: "One two three four five." }]);
    const stream = ask("text-1");
    const deltas: string[] = [];
    stream.on("text", (t) => deltas.push(t));
    const message = await stream.finalMessage();
    expect(deltas.length).toBe(5);
    expect(message.content).toMatchObject([{ type: "text", text: "One two three four five." }]);
    expect(message.stop_reason).toBe("end_turn");
  });

  it("streams tool calls as input_json_delta and stops for tool_use", async () => {
    const input = { title: "Buy milk", priority: "high", nested: { n: 1 } };
    await scriptClaude(fake.url, "tool-1", [
      { kind: "tool_use", text: "Adding.", calls: [{ name: "create_todo", input }] },
    ]);
    const message = await ask("tool-1").finalMessage();
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content[1]).toMatchObject({ type: "tool_use", name: "create_todo", input });
  });

  it("answers 529 overloaded and 429 with retry-after", async () => {
    await scriptClaude(fake.url, "err-1", [
      { kind: "error", status: 529 },
      { kind: "error", status: 429, retryAfterSeconds: 3 },
    ]);
    const overloaded = await ask("err-1")
      .finalMessage()
      .catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(APIError);
    expect((overloaded as APIError).status).toBe(529);
    const limited = (await ask("err-1")
      .finalMessage()
      .catch((e: unknown) => e)) as APIError;
    expect(limited.status).toBe(429);
    expect(limited.headers?.get("retry-after")).toBe("3");
  });

  it("the SDK's own retries get through a 529 (documented: we turn them off)", async () => {
    await scriptClaude(fake.url, "sdk-retry", [
      { kind: "error", status: 529, retryAfterSeconds: 0 },
      { kind: "text", text: "ok" },
    ]);
    const retrying = new Anthropic({
      apiKey: "test-anthropic-key",
      baseURL: fake.url,
      maxRetries: 2,
    });
    const message = await retrying.messages
      .stream({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "[sdk-retry]" }] })
      .finalMessage();
    expect(message.content[0]).toMatchObject({ text: "ok" });
  });

  it("drops the connection mid-stream, and sends a mid-stream error event", async () => {
    await scriptClaude(fake.url, "cut-1", [
      { kind: "cut", text: "one two three four", afterChunks: 2 },
      { kind: "stream_error", text: "partial" },
    ]);
    await expect(ask("cut-1").finalMessage()).rejects.toThrow();
    await expect(ask("cut-1").finalMessage()).rejects.toThrow(/overloaded/i);
  });

  it("checks the API key and required headers", async () => {
    const wrong = new Anthropic({ apiKey: "nope", baseURL: fake.url, maxRetries: 0 });
    await expect(
      wrong.messages.create({
        model: "m",
        max_tokens: 1,
        messages: [{ role: "user", content: "x" }],
      }),
    ).rejects.toBeInstanceOf(AuthenticationError);
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "test-anthropic-key" },
      body: "{}",
    });
    expect(res.status).toBe(400);
  });

  it("honours latency and records a client abort", async () => {
    await scriptClaude(fake.url, "slow-1", [
      { kind: "text", text: "a b c d e f", latency: { firstTokenMs: 150, chunkMs: 100 } },
    ]);
    const started = Date.now();
    const stream = ask("slow-1");
    const first = await new Promise<number>((resolve) =>
      stream.on("text", () => resolve(Date.now())),
    );
    expect(first - started).toBeGreaterThanOrEqual(150);
    stream.abort();
    await stream.finalMessage().catch(() => undefined);
    await expect
      .poll(async () => (await claudeRequests(fake.url, "slow-1"))[0]?.aborted)
      .toBe(true);
  });

  it("answers 500 when no script matches", async () => {
    const error = (await ask("nobody-scripted-this")
      .finalMessage()
      .catch((e: unknown) => e)) as APIError;
    expect(error.status).toBe(500);
  });
});
