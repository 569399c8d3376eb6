/**
 * What a test scripts the fake Anthropic API to answer, and how a request finds its script.
 * No node:* imports: client.ts imports from here, and it also runs inside workerd.
 */
import { z } from "zod";
import type { InputUsage } from "./sse.ts";

const Latency = z
  .object({
    /** Delay before the answer starts (before its status line and headers). */
    firstTokenMs: z.number().nonnegative().optional(),
    /** Delay before each streamed delta. */
    chunkMs: z.number().nonnegative().optional(),
  })
  .optional();

/** Characters per text_delta; word-sized deltas when absent. */
const ChunkSize = z.number().int().positive().optional();

export const ERROR_TYPES = [
  "invalid_request_error",
  "authentication_error",
  "permission_error",
  "not_found_error",
  "request_too_large",
  "rate_limit_error",
  "api_error",
  "overloaded_error",
] as const;

export const StepSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("text"),
    text: z.string(),
    chunkSize: ChunkSize,
    stopReason: z.enum(["end_turn", "max_tokens"]).optional(),
    latency: Latency,
  }),
  /** Optional leading text, then one tool_use block per call; stops for tool_use. */
  z.object({
    kind: z.literal("tool_use"),
    text: z.string().optional(),
    calls: z
      .array(
        z.object({
          name: z.string().min(1),
          input: z.record(z.string(), z.unknown()),
          id: z.string().optional(),
        }),
      )
      .min(1),
    latency: Latency,
  }),
  /** An HTTP error before any stream starts. */
  z.object({
    kind: z.literal("error"),
    status: z.union([z.literal(429), z.literal(500), z.literal(529)]),
    errorType: z.string().optional(),
    message: z.string().optional(),
    retryAfterSeconds: z.number().nonnegative().optional(),
    latency: Latency,
  }),
  /** Starts streaming, then destroys the socket after `afterChunks` text deltas. */
  z.object({
    kind: z.literal("cut"),
    text: z.string(),
    afterChunks: z.number().int().nonnegative(),
    chunkSize: ChunkSize,
    latency: Latency,
  }),
  /** Some text, then an SSE `error` event, as Anthropic sends when it overloads mid-stream. */
  z.object({
    kind: z.literal("stream_error"),
    text: z.string().optional(),
    errorType: z.enum(ERROR_TYPES).optional(),
    latency: Latency,
  }),
]);
export type Step = z.infer<typeof StepSchema>;

export const ScriptSchema = z.object({ match: z.string().min(1), steps: z.array(StepSchema) });

/**
 * What the fake did, as it did it, for an observer in the same process (a benchmark timing the
 * app from outside): `at` is that process's `performance.now()`, `tag` the `match` of the script
 * that served the request, `text` the request's last user message.
 * - `model_request`: a /v1/messages request arrived (its whole body) and found its script;
 * - `model_first_token`: its answer's first text (the first `text_delta`, or the whole message
 *   of a non-streamed answer) was sent.
 */
export interface AnthropicEvent {
  kind: "model_request" | "model_first_token";
  at: number;
  tag: string;
  text: string;
}
export type AnthropicObserver = (event: AnthropicEvent) => void;

export interface RecordedRequest {
  /** The JSON body of the /v1/messages request. */
  body: unknown;
  /** The client went away before the answer ended (a scripted `cut` does not count). */
  aborted: boolean;
  /** When the request had arrived in full (epoch ms, the fake's clock). */
  receivedAt: number;
  /** The input tokens it was answered with: read from the prompt cache, written to it, or neither. */
  usage?: InputUsage;
}

/** A prompt-cache breakpoint, as Anthropic accepts it (`ttl` is optional, 5 minutes by default). */
const CacheControlSchema = z.strictObject({
  type: z.literal("ephemeral"),
  ttl: z.enum(["5m", "1h"]).optional(),
});

const ContentBlockSchema = z.looseObject({
  type: z.string(),
  cache_control: CacheControlSchema.nullish(),
});

/** The part of a Messages request that Anthropic checks before it answers. */
export const MessagesRequestSchema = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().positive(),
  messages: z.array(
    z.looseObject({
      role: z.enum(["user", "assistant"]),
      content: z.union([z.string(), z.array(ContentBlockSchema)]),
    }),
  ),
  system: z
    .union([
      z.string(),
      z.array(
        z.strictObject({
          type: z.literal("text"),
          text: z.string().min(1),
          cache_control: CacheControlSchema.nullish(),
          citations: z.array(z.unknown()).nullish(),
        }),
      ),
    ])
    .optional(),
  tools: z
    .array(
      z.looseObject({
        name: z.string().regex(/^[a-zA-Z0-9_-]{1,128}$/),
        description: z.string().optional(),
        input_schema: z.looseObject({ type: z.literal("object") }),
        cache_control: CacheControlSchema.nullish(),
      }),
    )
    .optional(),
  stream: z.boolean().optional(),
});
export type MessagesRequest = z.infer<typeof MessagesRequestSchema>;

/** Anthropic's limit on `cache_control` blocks in one request. */
export const MAX_CACHE_BREAKPOINTS = 4;

/**
 * The request's prompt-cache prefixes, shortest first: the request serialised in the order
 * Claude reads it (tools, system, messages) up to and including each block that carries a
 * breakpoint. Two requests share a cached prefix when these strings are equal. As Anthropic
 * keys its cache, by what the model reads: a breakpoint is not part of the prefix (a block
 * marked in one request and not in the next is the same block), nor is the form of a text
 * (a string content is one text block).
 */
export function cachePrefixes(request: MessagesRequest): string[] {
  const blocks: { block: unknown; marked: boolean }[] = [];
  const add = (block: Record<string, unknown>, role?: string) => {
    const { cache_control, ...content } = block;
    blocks.push({ block: role ? [role, content] : content, marked: !!cache_control });
  };
  for (const tool of request.tools ?? []) add(tool);
  const system =
    typeof request.system === "string" ? [{ type: "text", text: request.system }] : request.system;
  for (const b of system ?? []) add(b);
  for (const message of request.messages) {
    const content =
      typeof message.content === "string"
        ? [{ type: "text", text: message.content }]
        : message.content;
    for (const b of content) add(b, message.role);
  }
  const prefixes: string[] = [];
  let prefix = `${request.model}\n`;
  for (const { block, marked } of blocks) {
    prefix += `${JSON.stringify(block)}\n`;
    if (marked) prefixes.push(prefix);
  }
  return prefixes;
}

/**
 * The fewest tokens Anthropic caches at a breakpoint, by model: a shorter prefix is served as if
 * unmarked (nothing read, nothing written). From Anthropic's prompt-caching guide; 1024 for the
 * models it does not list here (Sonnet 4.5 among them).
 */
export function minimumCachedTokens(model: string): number {
  if (/haiku-4-5|opus-4-5|opus-4-6/.test(model)) return 4096;
  if (/haiku-3/.test(model)) return 2048;
  return 1024;
}

/** What a script's `match` is looked for in: the system prompt and the conversation. */
export function matchableText(request: MessagesRequest): string {
  return JSON.stringify({ system: request.system, messages: request.messages });
}

/** The text of the last user turn, to say which request found no script. */
export function lastUserText(request: MessagesRequest): string {
  const last = request.messages.findLast((m) => m.role === "user");
  if (!last) return "";
  if (typeof last.content === "string") return last.content;
  return last.content
    .map((block) => (typeof block.text === "string" ? block.text : JSON.stringify(block)))
    .join(" ");
}

/** Word-sized chunks that keep their trailing space, or fixed-size ones. */
export function chunkText(text: string, size?: number): string[] {
  if (size === undefined) return text.match(/\S+\s*|\s+/g) ?? [];
  const chunks: string[] = [];
  for (let at = 0; at < text.length; at += size) chunks.push(text.slice(at, at + size));
  return chunks;
}

/** A tool input's JSON in about three `input_json_delta` pieces. */
export function jsonPieces(input: unknown): string[] {
  const json = JSON.stringify(input);
  return chunkText(json, Math.max(1, Math.ceil(json.length / 3)));
}
