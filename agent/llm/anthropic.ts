import { AnthropicError, APIConnectionError, APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import { partialParse } from "@anthropic-ai/sdk/_vendor/partial-json-parser/parser";
import type {
  ContentBlock,
  ContentBlockParam,
  Message,
  MessageParam,
  RawMessageStreamEvent,
  TextBlockParam,
  Usage,
} from "@anthropic-ai/sdk/resources/messages";
import { messageEventBatches, parseJson } from "./anthropic-events.ts";
import {
  type ChatModel,
  ModelError,
  type ModelEvent,
  type ModelRequest,
  type ModelUsage,
  type Tool,
} from "./types.ts";

export interface AnthropicModelOptions {
  apiKey: string;
  model: string;
  /** A local fake in tests; Anthropic's API otherwise. */
  baseURL?: string;
  /**
   * A call that sends nothing for this long is given up (and retried), so a stalled stream
   * can never hang a turn. @default 15000
   */
  idleTimeoutMs?: number;
}

/**
 * A prompt-cache breakpoint: Claude caches the request up to the block that carries it (5
 * minutes, renewed on each hit). Anthropic caches nothing under a model's minimum (1024 tokens
 * for Sonnet 4.5, 4096 for Haiku 4.5 and Opus 4.5): the request is then served as if unmarked.
 */
const CACHE_BREAKPOINT = { type: "ephemeral" } as const;

/** Where Claude is asked when no base URL is configured (the SDK's own default). */
const ANTHROPIC_API = "https://api.anthropic.com";
/** The API version the SDK in package.json sends with each request. */
const API_VERSION = "2026-10-21";

/** Statuses worth another try: rate limit, overload, and server-side failures. */
const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504, 529]);

/**
 * Claude's Messages API, streaming. The request is a plain `fetch` with its headers made once per
 * model, not the SDK's `messages.create`: that builds every request's headers in three merges, walks
 * every tool and every block of the whole history for its helper header, registers the body with a
 * FinalizationRegistry and arms a second controller, listener and timer — about 0.4 ms of the
 * Worker's time per turn, between the caller's last word and the request leaving, in the tenth
 * session's profile (docs/benchmarks.md). The SDK still gives the types and the errors
 * (`APIError.generate` makes the one its client would throw for a status), and its retries were
 * off already: the agent retries with its own bounded budget (retry.ts), so a turn can never hang.
 */
export function createAnthropicModel(options: AnthropicModelOptions): ChatModel {
  const url = `${(options.baseURL ?? ANTHROPIC_API).replace(/\/+$/, "")}/v1/messages`;
  const headers = {
    "content-type": "application/json",
    accept: "application/json",
    "anthropic-version": API_VERSION,
    "x-api-key": options.apiKey,
  };
  return {
    name: options.model,
    async *stream(request: ModelRequest, turnSignal: AbortSignal): AsyncIterable<ModelEvent> {
      const idleMs = options.idleTimeoutMs ?? 15_000;
      const controller = new AbortController();
      let stalled = false;
      const onTurnAbort = () => controller.abort(turnSignal.reason);
      turnSignal.addEventListener("abort", onTurnAbort, { once: true });
      // One timer for the whole call, not one per SSE event: each event only notes its time,
      // and the timer, when it fires early, waits out the rest of the idle time since then.
      let lastEventAt = Date.now();
      const checkIdle = () => {
        const quietMs = Date.now() - lastEventAt;
        if (quietMs < idleMs) {
          idleTimer = setTimeout(checkIdle, idleMs - quietMs);
          return;
        }
        stalled = true;
        controller.abort();
      };
      let idleTimer = setTimeout(checkIdle, idleMs);
      try {
        if (turnSignal.aborted) throw new APIUserAbortError();
        // Its events are read here, a network read's worth at a time (anthropic-events.ts),
        // not through the SDK's Stream, nor its MessageStream helper (which also rebuilds a
        // snapshot of the message and passes each event through an emitter and a queue).
        const response = await send(
          url,
          headers,
          controller.signal,
          requestBody(options.model, request),
        );
        const reply = new Reply();
        for await (const events of messageEventBatches(response)) {
          lastEventAt = Date.now();
          // The text of one read is one delta: the caller's side makes no use of finer pieces.
          let text = "";
          for (const event of events) {
            reply.add(event);
            if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
              text += event.delta.text;
            }
          }
          if (text) yield { type: "text", delta: text };
        }
        const message = reply.final();
        yield {
          type: "done",
          content: message.content,
          stopReason: message.stopReason,
          usage: usageOf(message.usage),
        };
      } catch (error) {
        if (stalled && !turnSignal.aborted) {
          throw new ModelError(`Claude sent nothing for ${idleMs} ms.`, {
            retryable: true,
            cause: error,
          });
        }
        // The body's read fails with the fetch's own AbortError: named as the SDK names it.
        if (turnSignal.aborted) throw new APIUserAbortError();
        throw toModelError(error, turnSignal);
      } finally {
        clearTimeout(idleTimer);
        turnSignal.removeEventListener("abort", onTurnAbort);
      }
    },
  };
}

/**
 * Sends one request; a status other than 2xx throws the SDK's error for it, as its client would
 * (body as JSON when it is JSON, else its text as the message), and a failed fetch an
 * APIConnectionError.
 */
async function send(
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  body: string,
): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { method: "POST", headers, body, signal });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new APIConnectionError({ cause: error instanceof Error ? error : undefined });
  }
  if (response.ok) return response;
  const text = await response.text().catch((error: unknown) => String(error));
  const json = parseJson(text);
  throw APIError.generate(
    response.status,
    json as object | undefined,
    json === undefined ? text : undefined,
    response.headers,
  );
}

/**
 * The assistant message, built from the stream's raw events as the SDK's MessageStream builds
 * it, but in place: blocks are appended in order and addressed by their index; text is
 * appended; a tool's input JSON is collected and parsed once, when its block stops. A block
 * of another type is kept as its content_block_start gave it (thinking is never requested,
 * so no thinking or signature deltas come).
 */
class Reply {
  #message: Message | undefined;
  /** Tool input JSON so far, by block index, for the blocks that got input_json_delta. */
  #json = new Map<number, string>();
  #final: { content: ContentBlock[]; stopReason: string | null; usage: Usage } | undefined;

  add(event: RawMessageStreamEvent): void {
    if (event.type === "message_start") {
      if (this.#message) {
        throw new AnthropicError(
          `Unexpected event order, got ${event.type} before receiving "message_stop"`,
        );
      }
      this.#message = event.message;
      return;
    }
    const message = this.#message;
    if (!message) return;
    switch (event.type) {
      case "content_block_start":
        message.content.push({ ...event.content_block });
        break;
      case "content_block_delta": {
        const block = message.content[event.index];
        const delta = event.delta;
        if (delta.type === "text_delta") {
          if (block?.type === "text") block.text = (block.text || "") + delta.text;
        } else if (delta.type === "input_json_delta") {
          if (block?.type === "tool_use" || block?.type === "server_tool_use") {
            this.#json.set(event.index, (this.#json.get(event.index) ?? "") + delta.partial_json);
          }
        } else if (delta.type === "citations_delta") {
          if (block?.type === "text") {
            block.citations = [...(block.citations ?? []), delta.citation];
          }
        }
        break;
      }
      case "content_block_stop":
        this.#parseInput(message.content, event.index);
        break;
      case "message_delta": {
        message.stop_reason = event.delta.stop_reason;
        const usage = message.usage;
        usage.output_tokens = event.usage.output_tokens;
        // The other counters are whole-message totals, sent only when they apply.
        if (event.usage.input_tokens != null) usage.input_tokens = event.usage.input_tokens;
        if (event.usage.cache_creation_input_tokens != null) {
          usage.cache_creation_input_tokens = event.usage.cache_creation_input_tokens;
        }
        if (event.usage.cache_read_input_tokens != null) {
          usage.cache_read_input_tokens = event.usage.cache_read_input_tokens;
        }
        break;
      }
      case "message_stop":
        for (const index of this.#json.keys()) this.#parseInput(message.content, index);
        this.#final = {
          content: message.content.slice(),
          stopReason: message.stop_reason,
          usage: message.usage,
        };
        break;
    }
  }

  /** The whole message; a stream that ended before message_stop broke off. */
  final(): { content: ContentBlock[]; stopReason: string | null; usage: Usage } {
    if (!this.#message) throw new AnthropicError("request ended without sending any chunks");
    if (!this.#final) {
      throw new AnthropicError("stream ended without producing a Message with role=assistant");
    }
    return this.#final;
  }

  #parseInput(content: ContentBlock[], index: number): void {
    const json = this.#json.get(index);
    const block = content[index];
    if (json === undefined || !(block?.type === "tool_use" || block?.type === "server_tool_use")) {
      return;
    }
    this.#json.delete(index);
    // The input goes last, where MessageStream puts it.
    const { input: _, ...rest } = block;
    content[index] = { ...rest, input: parseInput(json) };
  }
}

/**
 * A tool's input as MessageStream reads it: `{}` when empty, else the SDK's partial-JSON parse,
 * which completes JSON cut short (a reply stopped by max_tokens) and throws on anything else
 * (a retryable "broke off"). JSON.parse first: the same object for whole JSON, natively.
 */
function parseInput(json: string): unknown {
  if (!json) return {};
  try {
    const input: unknown = JSON.parse(json);
    if (typeof input === "object") return input;
  } catch {}
  return partialParse(json);
}

/**
 * Claude reads a request as tools, then system, then messages, and caches the request up to each
 * breakpoint. Four breakpoints, Anthropic's limit:
 * - the last tool: the tool definitions, the same for every caller;
 * - the system prompt: the session's instructions, the same every turn (the time it is rides in
 *   each turn's input, system-prompt.ts);
 * - the last two user messages: the conversation so far. The last one writes the conversation to
 *   the cache; on the next request it is the second-to-last, where that request reads it back, as
 *   Anthropic's guide to multi-turn caching marks them. So a turn reads everything before it from
 *   the cache, however long the call: on Haiku 4.5, whose minimum is 4096 tokens, the tools and
 *   instructions alone (about 3 000) are never cached, but a conversation past a few turns is.
 */
function requestBody(model: string, request: ModelRequest): string {
  return `{"model":${JSON.stringify(model)},"max_tokens":${JSON.stringify(request.maxTokens)},"tools":${toolsJson(request.tools)},"system":${JSON.stringify(systemBlocks(request.system))},"messages":${JSON.stringify(withConversationBreakpoints(request.messages))},"stream":true}`;
}

function systemBlocks(system: string): TextBlockParam[] {
  return [{ type: "text", text: system, cache_control: CACHE_BREAKPOINT }];
}

/** How many of the last user messages carry a breakpoint (above). */
const MARKED_USER_MESSAGES = 2;

/** `messages` with a breakpoint on the last block of each of the last two user messages; copies, never edits. */
function withConversationBreakpoints(messages: MessageParam[]): MessageParam[] {
  const marked = messages.slice();
  let left = MARKED_USER_MESSAGES;
  for (let i = marked.length - 1; i >= 0 && left > 0; i--) {
    const message = marked[i];
    if (message?.role !== "user") continue;
    const blocks: ContentBlockParam[] =
      typeof message.content === "string"
        ? [{ type: "text", text: message.content }]
        : message.content.slice();
    const last = blocks.at(-1);
    if (!last) continue;
    blocks[blocks.length - 1] = { ...last, cache_control: CACHE_BREAKPOINT } as ContentBlockParam;
    marked[i] = { role: "user", content: blocks };
    left -= 1;
  }
  return marked;
}

/** The same tool list every turn: marked and written as JSON once, not per call. */
const cachedToolsJson = new WeakMap<Tool[], string>();

function toolsJson(tools: Tool[]): string {
  let json = cachedToolsJson.get(tools);
  if (json === undefined) {
    json = JSON.stringify(
      tools.map((tool, i) =>
        i === tools.length - 1 ? { ...tool, cache_control: CACHE_BREAKPOINT } : tool,
      ),
    );
    cachedToolsJson.set(tools, json);
  }
  return json;
}

function usageOf(usage: Usage): ModelUsage {
  return {
    inputTokens: usage.input_tokens,
    cacheReadInputTokens: usage.cache_read_input_tokens ?? 0,
    cacheCreationInputTokens: usage.cache_creation_input_tokens ?? 0,
    outputTokens: usage.output_tokens,
  };
}

function toModelError(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted || error instanceof APIUserAbortError) return error;
  if (error instanceof APIConnectionError) {
    return new ModelError("Could not reach Claude.", { retryable: true, cause: error });
  }
  if (error instanceof APIError) {
    const retryAfter = Number(error.headers?.get("retry-after"));
    const type = (error.error as { error?: { type?: string } } | undefined)?.error?.type;
    const retryable =
      (error.status !== undefined && RETRYABLE_STATUS.has(error.status)) ||
      type === "overloaded_error" ||
      type === "rate_limit_error" ||
      type === "api_error";
    return new ModelError(
      `Claude answered ${error.status ?? "an error"}${type ? ` (${type})` : ""}.`,
      {
        retryable,
        status: error.status,
        retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined,
        cause: error,
      },
    );
  }
  // A stream that ends without message_stop, a dropped socket: worth another try.
  return new ModelError("Claude's answer stream broke off.", { retryable: true, cause: error });
}
