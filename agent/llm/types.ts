/**
 * The chat model as the agent sees it: one streaming call, vendor-neutral. The Anthropic
 * adapter (anthropic.ts) is the only file that imports a model SDK.
 */
import type {
  AssistantMessageParam,
  ContentBlockParam,
  Tool,
  UserMessageParam,
} from "@anthropic-ai/sdk/resources/messages";

export type { ContentBlockParam, Tool };

/** A conversation turn: the system prompt travels separately, so only user and assistant. */
export type MessageParam = UserMessageParam | AssistantMessageParam;

export function message(
  role: MessageParam["role"],
  content: ContentBlockParam[] | string,
): MessageParam {
  return role === "user" ? { role, content } : { role, content };
}

export interface ModelRequest {
  /**
   * The same for every turn of a session (who the caller is, how to speak, the rules), so the
   * provider can cache it; what changes each turn (the time) rides in the turn's own input.
   */
  system: string;
  messages: MessageParam[];
  tools: Tool[];
  maxTokens: number;
}

export type ModelEvent =
  | { type: "text"; delta: string }
  /** The whole assistant message, once the stream has ended. */
  | {
      type: "done";
      content: MessageParam["content"];
      stopReason: string | null;
      usage?: ModelUsage;
    };

/** Input tokens of a call: read from the provider's prompt cache, written to it, or neither. */
export interface ModelUsage {
  inputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
  outputTokens: number;
}

export interface ChatModel {
  readonly name: string;
  stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<ModelEvent>;
}

/** A failed model call, saying whether trying again can help. */
export class ModelError extends Error {
  readonly retryable: boolean;
  readonly status: number | undefined;
  /** Seconds the provider asked us to wait, when it said. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    message: string,
    options: { retryable: boolean; status?: number; retryAfterSeconds?: number; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.name = "ModelError";
    this.retryable = options.retryable;
    this.status = options.status;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}
