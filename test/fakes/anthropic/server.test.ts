/**
 * The fake Anthropic API, driven by the real @anthropic-ai/sdk client: what the SDK makes of
 * each scripted answer is what the agent will see.
 */
import Anthropic, {
  AnthropicError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  InternalServerError,
  OverloadedError,
  RateLimitError,
} from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeRequests, dropScript, scriptClaude } from "./client.ts";
import { type AnthropicEvent, type FakeAnthropic, startFakeAnthropic } from "./server.ts";

const KEY = "test-anthropic-key";
let fake: FakeAnthropic;
let client: Anthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
  client = new Anthropic({ apiKey: KEY, baseURL: fake.url, maxRetries: 0 });
});
afterAll(() => fake.close());

const params = (match: string) => ({
  model: "claude-test",
  max_tokens: 100,
  messages: [{ role: "user" as const, content: `[${match}] hello` }],
});
const ask = (match: string, options?: { signal?: AbortSignal }) =>
  client.messages.stream(params(match), options);
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e,
  );

describe("fake Anthropic API, driven by the real SDK", () => {
  it("streams text as several deltas over time, then ends the turn", async () => {
    const text = "One two three four five.";
    await scriptClaude(fake.url, "text-1", [{ kind: "text", text, latency: { chunkMs: 30 } }]);
    const stream = ask("text-1");
    const deltas: { text: string; at: number }[] = [];
    stream.on("text", (delta) => deltas.push({ text: delta, at: Date.now() }));
    const message = await stream.finalMessage();
    expect(deltas.map((d) => d.text)).toEqual(["One ", "two ", "three ", "four ", "five."]);
    expect((deltas.at(-1)?.at ?? 0) - (deltas[0]?.at ?? 0)).toBeGreaterThanOrEqual(100);
    expect(message.content).toMatchObject([{ type: "text", text }]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.id).toMatch(/^msg_fake_/);
    expect(message.usage.input_tokens).toBeGreaterThan(10);
    expect(message.usage.output_tokens).toBe(Math.ceil(text.length / 4));
  });

  it("splits text by chunkSize and can stop for max_tokens", async () => {
    await scriptClaude(fake.url, "text-2", [
      { kind: "text", text: "abcdefghij", chunkSize: 4, stopReason: "max_tokens" },
    ]);
    const stream = ask("text-2");
    const deltas: string[] = [];
    stream.on("text", (delta) => deltas.push(delta));
    const message = await stream.finalMessage();
    expect(deltas).toEqual(["abcd", "efgh", "ij"]);
    expect(message.stop_reason).toBe("max_tokens");
  });

  it("streams tool calls as input_json_delta pieces and stops for tool_use", async () => {
    const input = { title: "Buy milk", priority: "high", nested: { n: 1, tags: ["a", "b"] } };
    await scriptClaude(fake.url, "tool-1", [
      {
        kind: "tool_use",
        text: "Adding.",
        calls: [
          { name: "create_todo", input },
          { name: "list_todos", input: {}, id: "toolu_chosen" },
        ],
      },
    ]);
    const stream = ask("tool-1");
    const pieces: string[] = [];
    stream.on("inputJson", (partial) => pieces.push(partial));
    const message = await stream.finalMessage();
    expect(pieces.length).toBeGreaterThanOrEqual(4);
    expect(pieces.slice(0, 3).join("")).toBe(JSON.stringify(input));
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content).toMatchObject([
      { type: "text", text: "Adding." },
      {
        type: "tool_use",
        id: expect.stringMatching(/^toolu_fake_\d+$/),
        name: "create_todo",
        input,
      },
      { type: "tool_use", id: "toolu_chosen", name: "list_todos", input: {} },
    ]);
  });

  it("answers a non-streaming request with the whole Message", async () => {
    await scriptClaude(fake.url, "whole-1", [
      { kind: "tool_use", calls: [{ name: "create_todo", input: { title: "x" } }] },
    ]);
    const message = await client.messages.create(params("whole-1"));
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content).toMatchObject([{ type: "tool_use", input: { title: "x" } }]);
  });

  it("answers 529 overloaded and 429 rate limited, with retry-after and request-id", async () => {
    await scriptClaude(fake.url, "err-1", [
      { kind: "error", status: 529 },
      { kind: "error", status: 429, retryAfterSeconds: 3, message: "slow down" },
    ]);
    const overloaded = await failure(ask("err-1").finalMessage());
    expect(overloaded).toBeInstanceOf(OverloadedError);
    expect(overloaded).toMatchObject({ status: 529, type: "overloaded_error" });
    expect((overloaded as APIError).requestID).toMatch(/^req_fake_\d+$/);
    const limited = await failure(ask("err-1").finalMessage());
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited).toMatchObject({
      status: 429,
      type: "rate_limit_error",
      apiMessage: "slow down",
    });
    expect((limited as APIError).headers?.get("retry-after")).toBe("3");
  });

  it("documents the SDK: with maxRetries > 0 it retries 529s itself", async () => {
    await scriptClaude(fake.url, "sdk-retry", [
      { kind: "error", status: 529, retryAfterSeconds: 0.01 },
      { kind: "error", status: 529, retryAfterSeconds: 0.01 },
      { kind: "text", text: "ok" },
    ]);
    const retrying = new Anthropic({ apiKey: KEY, baseURL: fake.url, maxRetries: 2 });
    const message = await retrying.messages.stream(params("sdk-retry")).finalMessage();
    expect(message.content[0]).toMatchObject({ text: "ok" });
    expect(await claudeRequests(fake.url, "sdk-retry")).toHaveLength(3);
  });

  it("drops the connection mid-stream: the SDK stream rejects", async () => {
    await scriptClaude(fake.url, "cut-1", [
      { kind: "cut", text: "one two three four", afterChunks: 2 },
    ]);
    const stream = ask("cut-1");
    const deltas: string[] = [];
    stream.on("text", (delta) => deltas.push(delta));
    const error = await failure(stream.finalMessage());
    expect(error).toBeInstanceOf(AnthropicError);
    expect(error).not.toBeInstanceOf(APIUserAbortError);
    expect(deltas).toEqual(["one ", "two "]);
    // The fake dropped it; the client did not abort.
    expect(await claudeRequests(fake.url, "cut-1")).toMatchObject([{ aborted: false }]);
  });

  it("sends a mid-stream error event: the SDK rejects with its type", async () => {
    await scriptClaude(fake.url, "serr-1", [
      { kind: "stream_error", text: "partial answer" },
      { kind: "stream_error", errorType: "api_error" },
    ]);
    const stream = ask("serr-1");
    const deltas: string[] = [];
    stream.on("text", (delta) => deltas.push(delta));
    const overloaded = await failure(stream.finalMessage());
    expect(overloaded).toBeInstanceOf(APIError);
    expect(overloaded).toMatchObject({ status: undefined, type: "overloaded_error" });
    expect(deltas.join("")).toBe("partial answer");
    const apiError = await failure(ask("serr-1").finalMessage());
    expect(apiError).toMatchObject({ type: "api_error" });
  });

  it("checks the key, the anthropic-version header and the body, as Anthropic does", async () => {
    const wrong = new Anthropic({ apiKey: "nope", baseURL: fake.url, maxRetries: 0 });
    const refused = await failure(wrong.messages.create(params("auth-1")));
    expect(refused).toBeInstanceOf(AuthenticationError);
    expect(refused).toMatchObject({ status: 401, type: "authentication_error" });

    await scriptClaude(fake.url, "auth-1", [{ kind: "text", text: "Hi." }]);
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(`${fake.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      });
    const noVersion = await post({ "x-api-key": KEY }, params("auth-1"));
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({ error: { type: "invalid_request_error" } });
    const badBody = await post(
      { "x-api-key": KEY, "anthropic-version": "2023-06-01" },
      { model: "m", messages: [] },
    );
    expect(badBody.status).toBe(400);
    expect(await badBody.json()).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error", message: expect.stringContaining("max_tokens") },
    });
    // Anthropic's documented header, rather than the SDK's `Authorization: Bearer`.
    const viaApiKey = await post(
      { "x-api-key": KEY, "anthropic-version": "2023-06-01" },
      {
        ...params("auth-1"),
        stream: false,
      },
    );
    expect(await viaApiKey.json()).toMatchObject({ content: [{ type: "text", text: "Hi." }] });
  });

  it("answers 500 with the caller's words when no script matches", async () => {
    const error = await failure(ask("nobody-scripted-this").finalMessage());
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error).toMatchObject({ status: 500, type: "api_error" });
    expect((error as APIError).message).toContain("[nobody-scripted-this] hello");
  });

  it("serves the oldest script with steps left whose match is in the system prompt or messages", async () => {
    await scriptClaude(fake.url, "order-a", [{ kind: "text", text: "first" }]);
    await scriptClaude(fake.url, "order-b", [{ kind: "text", text: "second" }]);
    const both = {
      ...params("order-b"),
      system: "Speaking with order-a.",
    };
    expect(await client.messages.stream(both).finalText()).toBe("first");
    expect(await client.messages.stream(both).finalText()).toBe("second");
    expect(await claudeRequests(fake.url, "order-a")).toMatchObject([{ body: both }]);
  });

  it("drops a script on request", async () => {
    await scriptClaude(fake.url, "drop-1", [{ kind: "text", text: "never said" }]);
    await dropScript(fake.url, "drop-1");
    expect(await failure(ask("drop-1").finalMessage())).toMatchObject({ status: 500 });
    expect(await claudeRequests(fake.url, "drop-1")).toEqual([]);
  });

  it("holds the first token back for firstTokenMs", async () => {
    await scriptClaude(fake.url, "slow-1", [
      { kind: "text", text: "a b", latency: { firstTokenMs: 150 } },
    ]);
    const started = Date.now();
    const stream = ask("slow-1");
    const first = new Promise<number>((resolve) => stream.once("text", () => resolve(Date.now())));
    await stream.finalMessage();
    expect((await first) - started).toBeGreaterThanOrEqual(150);
  });

  it("records a client abort mid-stream (stream.abort())", async () => {
    await scriptClaude(fake.url, "abort-1", [
      { kind: "text", text: "a b c d e f g h", latency: { chunkMs: 100 } },
    ]);
    const stream = ask("abort-1");
    await new Promise<void>((resolve) => stream.once("text", () => resolve()));
    stream.abort();
    expect(await failure(stream.finalMessage())).toBeInstanceOf(APIUserAbortError);
    expect(stream.aborted).toBe(true);
    await expect
      .poll(async () => (await claudeRequests(fake.url, "abort-1"))[0]?.aborted)
      .toBe(true);
  });

  it("records a client abort before the first token (AbortSignal)", async () => {
    await scriptClaude(fake.url, "abort-2", [
      { kind: "text", text: "too late", latency: { firstTokenMs: 5_000 } },
    ]);
    const stream = ask("abort-2", { signal: AbortSignal.timeout(100) });
    expect(await failure(stream.finalMessage())).toBeInstanceOf(APIUserAbortError);
    await expect
      .poll(async () => (await claudeRequests(fake.url, "abort-2"))[0]?.aborted)
      .toBe(true);
  });
});

describe("fake Anthropic API: the observer (benchmarks)", () => {
  it("is told when a request arrives and when its first text leaves, streamed or not", async () => {
    const events: AnthropicEvent[] = [];
    const observed = await startFakeAnthropic({ onEvent: (event) => events.push(event) });
    try {
      const sdk = new Anthropic({ apiKey: KEY, baseURL: observed.url, maxRetries: 0 });
      await scriptClaude(observed.url, "observed-1", [
        { kind: "text", text: "Hello there.", latency: { firstTokenMs: 50 } },
        { kind: "text", text: "Again." },
      ]);
      await sdk.messages.stream(params("observed-1")).finalMessage();
      await sdk.messages.create(params("observed-1"));
      expect(events.map((e) => [e.kind, e.tag, e.text])).toEqual([
        ["model_request", "observed-1", "[observed-1] hello"],
        ["model_first_token", "observed-1", "[observed-1] hello"],
        ["model_request", "observed-1", "[observed-1] hello"],
        ["model_first_token", "observed-1", "[observed-1] hello"],
      ]);
      const [request, token] = events;
      expect((token?.at ?? 0) - (request?.at ?? 0)).toBeGreaterThanOrEqual(45);
    } finally {
      await observed.close();
    }
  });
});
