/**
 * The Anthropic adapter (agent/llm/anthropic.ts) reads the SDK's raw event stream and builds
 * the message itself. It must make of every answer what the SDK's MessageStream makes of it:
 * the same content (key order included, as it goes back to Claude and into storage), stop
 * reason and usage, and the same errors; and it gives up on a stream that goes quiet for its
 * idle time, but not on one that keeps sending.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Anthropic, { APIUserAbortError } from "@anthropic-ai/sdk";
import type { Message } from "@anthropic-ai/sdk/resources/messages";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAnthropicModel } from "../../../agent/llm/anthropic.ts";
import { ModelError, type ModelEvent, type ModelRequest } from "../../../agent/llm/types.ts";
import { claudeRequests, type Step, scriptClaude } from "./client.ts";
import { type FakeAnthropic, startFakeAnthropic } from "./server.ts";

const KEY = "test-anthropic-key";
let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(() => fake.close());

function request(match: string): ModelRequest {
  return {
    system: `You are speaking with ${match}.`,
    messages: [
      { role: "user", content: "<context>It is now 9:00.</context>" },
      { role: "user", content: "hello" },
    ],
    tools: [{ name: "add_todo", description: "Adds a to-do.", input_schema: { type: "object" } }],
    maxTokens: 100,
  };
}

async function collect(
  baseURL: string,
  match: string,
  options: { idleTimeoutMs?: number; signal?: AbortSignal } = {},
): Promise<{ texts: string[]; done?: Extract<ModelEvent, { type: "done" }>; error?: unknown }> {
  const model = createAnthropicModel({
    apiKey: KEY,
    model: "claude-test",
    baseURL,
    idleTimeoutMs: options.idleTimeoutMs,
  });
  const texts: string[] = [];
  try {
    for await (const event of model.stream(
      request(match),
      options.signal ?? AbortSignal.timeout(10_000),
    )) {
      if (event.type === "text") texts.push(event.delta);
      else return { texts, done: event };
    }
    return { texts };
  } catch (error) {
    return { texts, error };
  }
}

/** What the SDK's MessageStream makes of the same answer, with the same request. */
async function viaMessageStream(baseURL: string, match: string): Promise<Message | Error> {
  const client = new Anthropic({ apiKey: KEY, baseURL, maxRetries: 0 });
  const { system, messages, tools, maxTokens } = request(match);
  const stream = client.messages.stream({
    model: "claude-test",
    max_tokens: maxTokens,
    system,
    messages,
    tools,
  });
  return stream.finalMessage().catch((error: Error) => error);
}

describe("the adapter's message, as MessageStream builds it", () => {
  const steps: Record<string, Step> = {
    text: { kind: "text", text: "Your meeting is at three this afternoon, with the design team." },
    max_tokens: { kind: "text", text: "Cut short", chunkSize: 3, stopReason: "max_tokens" },
    tools: {
      kind: "tool_use",
      text: "Let me add both.",
      calls: [
        { name: "add_todo", id: "toolu_a", input: { title: "Buy milk", due: "2026-11-24" } },
        { name: "add_todo", id: "toolu_b", input: { title: "Call Ann", tags: ["x", { y: 1 }] } },
      ],
    },
    "empty input": { kind: "tool_use", calls: [{ name: "add_todo", id: "toolu_c", input: {} }] },
  };
  for (const [name, step] of Object.entries(steps)) {
    it(name, async () => {
      const match = `adapter-${name}-${crypto.randomUUID().slice(0, 8)}`;
      await scriptClaude(fake.url, match, [step, step]);
      const ours = await collect(fake.url, match);
      const sdk = await viaMessageStream(fake.url, match);
      if (sdk instanceof Error) throw sdk;
      expect(ours.error).toBeUndefined();
      expect(JSON.stringify(ours.done?.content)).toBe(JSON.stringify(sdk.content));
      expect(ours.done?.stopReason).toBe(sdk.stop_reason);
      // Input usage differs between the two calls (the first one wrote the prompt cache).
      expect(ours.done?.usage?.outputTokens).toBe(sdk.usage.output_tokens);
      expect(ours.done?.usage?.inputTokens).toBeGreaterThan(0);
      expect(ours.texts.join("")).toBe(("text" in step && step.text) || "");
    });
  }
});

/** A Messages API that answers every request with these SSE bytes, then ends (or hangs). */
async function rawAnthropic(body: string, options: { hang?: boolean } = {}) {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(body);
      if (!options.hang) res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const sse = (events: Record<string, unknown>[]) =>
  events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");
const START = {
  type: "message_start",
  message: {
    id: "msg_raw",
    type: "message",
    role: "assistant",
    model: "claude-test",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 12, cache_read_input_tokens: 3, output_tokens: 1 },
  },
};
const toolWith = (...pieces: string[]) => [
  {
    type: "content_block_start",
    index: 0,
    // `caller` after `input`: the built block has its input last, as MessageStream has it.
    content_block: { type: "tool_use", id: "toolu_r", name: "add_todo", input: {}, caller: null },
  },
  ...pieces.map((partial_json) => ({
    type: "content_block_delta",
    index: 0,
    delta: { type: "input_json_delta", partial_json },
  })),
  { type: "content_block_stop", index: 0 },
];
const END = [
  {
    type: "message_delta",
    delta: { stop_reason: "tool_use", stop_sequence: null },
    usage: { output_tokens: 9, input_tokens: 14 },
  },
  { type: "message_stop" },
];

describe("edge cases of the raw stream, as MessageStream has them", () => {
  const cases: Record<string, Record<string, unknown>[]> = {
    "tool input in many pieces": [
      START,
      ...toolWith('{"ti', 'tle": "A \\"q', '\\"", "n": 1', "}"),
      ...END,
    ],
    "an empty input_json_delta": [START, ...toolWith(""), ...END],
    "tool input cut short (completed, as the SDK's partial parse does)": [
      START,
      ...toolWith('{"title": "Buy', ' milk", "due": "2026-'),
      ...END,
    ],
    "a block of another type, kept as given": [
      START,
      {
        type: "content_block_start",
        index: 0,
        content_block: { type: "redacted_thinking", data: "abc" },
      },
      { type: "content_block_stop", index: 0 },
      ...END,
    ],
  };
  for (const [name, events] of Object.entries(cases)) {
    it(name, async () => {
      const raw = await rawAnthropic(sse(events));
      try {
        const ours = await collect(raw.url, name);
        const sdk = await viaMessageStream(raw.url, name);
        if (sdk instanceof Error) throw sdk;
        expect(ours.error).toBeUndefined();
        expect(JSON.stringify(ours.done?.content)).toBe(JSON.stringify(sdk.content));
        expect(ours.done?.stopReason).toBe("tool_use");
        expect(ours.done?.usage).toEqual({
          inputTokens: 14,
          cacheReadInputTokens: 3,
          cacheCreationInputTokens: 0,
          outputTokens: 9,
        });
      } finally {
        raw.close();
      }
    });
  }

  const broken: Record<string, Record<string, unknown>[]> = {
    "no message_start": [],
    "no message_stop": [START, ...toolWith('{"a": 1}')],
    "tool input that is not JSON": [START, ...toolWith('{"a": nope}'), ...END],
    "a second message_start": [START, START, ...END],
  };
  for (const [name, events] of Object.entries(broken)) {
    it(`${name}: a retryable "broke off", where MessageStream fails too`, async () => {
      const raw = await rawAnthropic(sse(events));
      try {
        const ours = await collect(raw.url, name);
        expect(await viaMessageStream(raw.url, name)).toBeInstanceOf(Error);
        expect(ours.done).toBeUndefined();
        expect(ours.error).toBeInstanceOf(ModelError);
        expect(ours.error).toMatchObject({
          message: "Claude's answer stream broke off.",
          retryable: true,
        });
      } finally {
        raw.close();
      }
    });
  }
});

describe("the request, as the SDK's client sends it", () => {
  it("the same body, marked for the prompt cache, with the key and the API version", async () => {
    const match = `adapter-request-${crypto.randomUUID().slice(0, 8)}`;
    const text: Step = { kind: "text", text: "Hello." };
    await scriptClaude(fake.url, match, [text, text]);
    await collect(fake.url, match);
    const { system, messages, tools, maxTokens } = request(match);
    const client = new Anthropic({ apiKey: KEY, baseURL: fake.url, maxRetries: 0 });
    const sdk = await client.messages.create({
      model: "claude-test",
      max_tokens: maxTokens,
      system: [{ type: "text", text: system, cache_control: { type: "ephemeral" } }],
      // The last two user messages carry a breakpoint on their last block.
      messages: messages.map((m) => ({
        role: m.role,
        content: [
          {
            type: "text" as const,
            text: String(m.content),
            cache_control: { type: "ephemeral" as const },
          },
        ],
      })),
      tools: tools.map((tool) => ({ ...tool, cache_control: { type: "ephemeral" as const } })),
      stream: true,
    });
    for await (const _ of sdk) {
      // read to the end
    }
    // The fake refuses a request without the key (401) or the version header (400).
    const [ours, theirs] = await claudeRequests(fake.url, match);
    expect(ours?.body).toEqual(theirs?.body);
  });

  it("a server that does not answer: could not reach Claude, worth another try", async () => {
    const closed = await rawAnthropic("");
    closed.close();
    const { error } = await collect(closed.url, "unreachable");
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ message: "Could not reach Claude.", retryable: true });
  });
});

describe("errors and deadlines", () => {
  it("maps an HTTP error before the stream, with its retry-after", async () => {
    const match = `adapter-429-${crypto.randomUUID().slice(0, 8)}`;
    await scriptClaude(fake.url, match, [{ kind: "error", status: 429, retryAfterSeconds: 2 }]);
    const { error } = await collect(fake.url, match);
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({
      message: "Claude answered 429 (rate_limit_error).",
      retryable: true,
      status: 429,
      retryAfterSeconds: 2,
    });
  });

  it("maps an error event mid-stream, after the text it sent", async () => {
    const match = `adapter-overload-${crypto.randomUUID().slice(0, 8)}`;
    await scriptClaude(fake.url, match, [{ kind: "stream_error", text: "Let me see" }]);
    const { texts, error } = await collect(fake.url, match);
    expect(texts.join("")).toBe("Let me see");
    expect(error).toMatchObject({
      message: "Claude answered an error (overloaded_error).",
      retryable: true,
    });
  });

  it("a dropped connection broke off", async () => {
    const match = `adapter-cut-${crypto.randomUUID().slice(0, 8)}`;
    await scriptClaude(fake.url, match, [{ kind: "cut", text: "one two three", afterChunks: 2 }]);
    const { texts, error } = await collect(fake.url, match);
    // What came before the cut, whether in one read or two (a read's text is one delta).
    expect(texts.join("")).toBe("one two ");
    expect(error).toMatchObject({ message: "Claude's answer stream broke off.", retryable: true });
  });

  it("keeps a stream that sends more slowly than, in all, its idle time", async () => {
    const match = `adapter-slow-${crypto.randomUUID().slice(0, 8)}`;
    const text = "one two three four five six seven eight";
    await scriptClaude(fake.url, match, [{ kind: "text", text, latency: { chunkMs: 80 } }]);
    const started = Date.now();
    const { texts, done, error } = await collect(fake.url, match, { idleTimeoutMs: 300 });
    expect(error).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThan(500);
    expect(texts.join("")).toBe(text);
    expect(done?.stopReason).toBe("end_turn");
  });

  it("gives up on a stream that goes quiet, before or during the answer", async () => {
    const match = `adapter-stall-${crypto.randomUUID().slice(0, 8)}`;
    await scriptClaude(fake.url, match, [
      { kind: "text", text: "hi", latency: { firstTokenMs: 2_000 } },
    ]);
    const before = await collect(fake.url, match, { idleTimeoutMs: 250 });
    expect(before.error).toBeInstanceOf(ModelError);
    expect(before.error).toMatchObject({
      message: "Claude sent nothing for 250 ms.",
      retryable: true,
    });

    const textStart = {
      type: "content_block_start",
      index: 0,
      content_block: { type: "text", text: "" },
    };
    const word = {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: "Hi" },
    };
    const raw = await rawAnthropic(sse([START, textStart, word]), { hang: true });
    try {
      const started = Date.now();
      const during = await collect(raw.url, "stall", { idleTimeoutMs: 250 });
      expect(during.texts).toEqual(["Hi"]);
      expect(during.error).toMatchObject({ message: "Claude sent nothing for 250 ms." });
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      raw.close();
    }
  });

  it("lets the turn's own abort through as it is", async () => {
    const match = `adapter-abort-${crypto.randomUUID().slice(0, 8)}`;
    await scriptClaude(fake.url, match, [
      { kind: "text", text: "one two three four five", latency: { chunkMs: 100 } },
    ]);
    const { texts, error } = await collect(fake.url, match, { signal: AbortSignal.timeout(250) });
    expect(texts.length).toBeGreaterThan(0);
    expect(texts.length).toBeLessThan(5);
    expect(error).toBeInstanceOf(APIUserAbortError);
  });
});
