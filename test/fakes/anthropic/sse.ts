/**
 * The Messages API's answers on the wire: the SSE event sequence of a streamed message
 * (message_start, ping, content_block_start / _delta / _stop per block, message_delta with the
 * stop reason and output usage, message_stop; or an `error` event mid-stream), the whole
 * Message of a non-streamed answer, and the error body.
 */
import { chunkText, jsonPieces, type Step } from "./script.ts";

/** A step that answers with a message (an `error` step answers with an HTTP error instead). */
export type AnswerStep = Exclude<Step, { kind: "error" }>;

export interface Frame {
  event: string;
  data: Record<string, unknown>;
  /** A content delta, which the server paces by `latency.chunkMs`. */
  delta?: "text" | "input_json";
}

export interface AnswerContext {
  messageId: string;
  model: string;
  input: InputUsage;
  nextToolId(): string;
}

/** A request's input tokens as `usage` reports them: the cache's part apart from the rest. */
export interface InputUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export function encodeFrame({ event, data }: Frame): string {
  return `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;
}

export function errorBody(type: string, message: string, requestId: string) {
  return { type: "error", error: { type, message }, request_id: requestId };
}

/**
 * The frames of a streamed answer. A `cut` ends after its `afterChunks` text deltas (the
 * server then drops the socket); a `stream_error` ends with the `error` event.
 */
export function* streamFrames(step: AnswerStep, ctx: AnswerContext): Generator<Frame> {
  yield {
    event: "message_start",
    data: {
      message: {
        id: ctx.messageId,
        type: "message",
        role: "assistant",
        model: ctx.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...ctx.input, output_tokens: 1 },
      },
    },
  };
  yield { event: "ping", data: {} };
  let index = 0;
  if (step.text) {
    yield {
      event: "content_block_start",
      data: { index, content_block: { type: "text", text: "" } },
    };
    let chunks = chunkText(step.text, "chunkSize" in step ? step.chunkSize : undefined);
    if (step.kind === "cut") chunks = chunks.slice(0, step.afterChunks);
    for (const text of chunks) {
      yield {
        event: "content_block_delta",
        data: { index, delta: { type: "text_delta", text } },
        delta: "text",
      };
    }
    if (step.kind === "cut") return;
    if (step.kind !== "stream_error") yield { event: "content_block_stop", data: { index } };
    index += 1;
  }
  if (step.kind === "cut") return;
  if (step.kind === "stream_error") {
    const type = step.errorType ?? "overloaded_error";
    yield { event: "error", data: { error: { type, message: defaultMessage(type) } } };
    return;
  }
  const toolJson: string[] = [];
  if (step.kind === "tool_use") {
    for (const call of step.calls) {
      const id = call.id ?? ctx.nextToolId();
      yield {
        event: "content_block_start",
        data: { index, content_block: { type: "tool_use", id, name: call.name, input: {} } },
      };
      for (const partial_json of jsonPieces(call.input)) {
        toolJson.push(partial_json);
        yield {
          event: "content_block_delta",
          data: { index, delta: { type: "input_json_delta", partial_json } },
          delta: "input_json",
        };
      }
      yield { event: "content_block_stop", data: { index } };
      index += 1;
    }
  }
  yield {
    event: "message_delta",
    data: {
      delta: { stop_reason: stopReason(step), stop_sequence: null },
      usage: { output_tokens: tokens((step.text ?? "") + toolJson.join("")) },
    },
  };
  yield { event: "message_stop", data: {} };
}

/** The whole Message a non-streaming request gets. */
export function wholeMessage(
  step: Extract<Step, { kind: "text" | "tool_use" }>,
  ctx: AnswerContext,
) {
  const content: Record<string, unknown>[] = [];
  if (step.text) content.push({ type: "text", text: step.text, citations: null });
  let toolJson = "";
  if (step.kind === "tool_use") {
    for (const call of step.calls) {
      const id = call.id ?? ctx.nextToolId();
      content.push({ type: "tool_use", id, name: call.name, input: call.input });
      toolJson += JSON.stringify(call.input);
    }
  }
  return {
    id: ctx.messageId,
    type: "message",
    role: "assistant",
    model: ctx.model,
    content,
    stop_reason: stopReason(step),
    stop_sequence: null,
    usage: { ...ctx.input, output_tokens: tokens((step.text ?? "") + toolJson) },
  };
}

export function defaultMessage(type: string): string {
  switch (type) {
    case "rate_limit_error":
      return "This request would exceed the rate limit for your organization. Please retry later.";
    case "overloaded_error":
      return "Overloaded";
    case "api_error":
      return "Internal server error";
    default:
      return `Scripted ${type}`;
  }
}

/** Roughly four characters a token, close enough for plausible usage figures. */
export function tokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function stopReason(step: AnswerStep): string {
  if (step.kind === "tool_use") return "tool_use";
  if (step.kind === "text") return step.stopReason ?? "end_turn";
  return "end_turn";
}
