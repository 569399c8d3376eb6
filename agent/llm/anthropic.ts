import Anthropic, { APIConnectionError, APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import type { TextBlockParam, Usage } from "@anthropic-ai/sdk/resources/messages";
import {
  type ChatModel,
  ModelError,
  type ModelEvent,
  type ModelRequest,
  type ModelUsage,
  type SystemPrompt,
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

/** Statuses worth another try: rate limit, overload, and server-side failures. */
const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504, 529]);

/**
 * Claude through @anthropic-ai/sdk, streaming. The SDK's own retries are off (`maxRetries: 0`):
 * the agent retries with its own bounded budget (retry.ts), so a turn can never hang.
 */
export function createAnthropicModel(options: AnthropicModelOptions): ChatModel {
  const client = new Anthropic({
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    maxRetries: 0,
    timeout: 30_000,
  });
  return {
    name: options.model,
    async *stream(request: ModelRequest, turnSignal: AbortSignal): AsyncIterable<ModelEvent> {
      const idleMs = options.idleTimeoutMs ?? 15_000;
      const stalled = new AbortController();
      let idleTimer = setTimeout(() => stalled.abort(), idleMs);
      const stillAlive = () => {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => stalled.abort(), idleMs);
      };
      const signal = AbortSignal.any([turnSignal, stalled.signal]);
      try {
        const stream = client.messages.stream(
          {
            model: options.model,
            max_tokens: request.maxTokens,
            system: systemBlocks(request.system),
            messages: request.messages,
            tools: withCachedTools(request.tools),
          },
          { signal },
        );
        // Errors reach us through the iteration below; this keeps the SDK's own promise
        // for the same error from surfacing as an unhandled rejection.
        stream.on("error", () => {});
        for await (const event of stream) {
          stillAlive();
          if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
            yield { type: "text", delta: event.delta.text };
          }
        }
        const message = await stream.finalMessage();
        yield {
          type: "done",
          content: message.content,
          stopReason: message.stop_reason,
          usage: usageOf(message.usage),
        };
      } catch (error) {
        if (stalled.signal.aborted && !turnSignal.aborted) {
          throw new ModelError(`Claude sent nothing for ${idleMs} ms.`, {
            retryable: true,
            cause: error,
          });
        }
        throw toModelError(error, turnSignal);
      } finally {
        clearTimeout(idleTimer);
      }
    },
  };
}

/**
 * Tools, then system, then messages is the order Claude reads a request in, so the two
 * breakpoints cache the tool definitions (the same for every caller) and, after them, the
 * session's stable instructions. The time comes after both.
 */
function systemBlocks(system: SystemPrompt): TextBlockParam[] {
  return [
    { type: "text", text: system.stable, cache_control: CACHE_BREAKPOINT },
    { type: "text", text: system.turn },
  ];
}

/** The same tool list every turn: marked once, not copied per call. */
const cachedTools = new WeakMap<Tool[], Tool[]>();

function withCachedTools(tools: Tool[]): Tool[] {
  let marked = cachedTools.get(tools);
  if (!marked) {
    marked = tools.map((tool, i) =>
      i === tools.length - 1 ? { ...tool, cache_control: CACHE_BREAKPOINT } : tool,
    );
    cachedTools.set(tools, marked);
  }
  return marked;
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
