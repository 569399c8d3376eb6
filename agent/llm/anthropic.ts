import Anthropic, { APIConnectionError, APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import { type ChatModel, ModelError, type ModelEvent, type ModelRequest } from "./types.ts";

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
            system: request.system,
            messages: request.messages,
            tools: request.tools,
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
        yield { type: "done", content: message.content, stopReason: message.stop_reason };
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
