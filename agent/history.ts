/**
 * Keeps the conversation valid for the Messages API whatever happened to earlier turns: a
 * cancelled turn can leave a tool_use without its result, or two user messages in a row.
 */
import { type MessageParam, message as makeMessage } from "./llm/types.ts";

type Block = Exclude<MessageParam["content"], string>[number];

function blocksOf(message: MessageParam): Block[] {
  return typeof message.content === "string"
    ? message.content.trim()
      ? [{ type: "text", text: message.content }]
      : []
    : message.content;
}

export const CANCELLED_TOOL_RESULT = "Not run: the caller moved on before this tool started.";

/**
 * Every tool_use gets a tool_result in the next user message (a synthetic "not run" one when
 * it was cancelled), consecutive same-role messages are merged, empty messages are dropped,
 * and the conversation starts with a user message.
 */
export function prepareForModel(messages: readonly MessageParam[]): MessageParam[] {
  const out: MessageParam[] = [];
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    if (!message) continue;
    const blocks = blocksOf(message);
    if (message.role === "assistant") {
      const toolIds = blocks.flatMap((b) => (b.type === "tool_use" ? [b.id] : []));
      if (toolIds.length > 0) {
        const next = messages[i + 1];
        const answered = new Set(
          next?.role === "user"
            ? blocksOf(next).flatMap((b) => (b.type === "tool_result" ? [b.tool_use_id] : []))
            : [],
        );
        const missing = toolIds.filter((id) => !answered.has(id));
        push(out, { role: "assistant", content: blocks });
        if (missing.length > 0) {
          push(out, {
            role: "user",
            content: missing.map((id) => ({
              type: "tool_result" as const,
              tool_use_id: id,
              content: CANCELLED_TOOL_RESULT,
              is_error: true,
            })),
          });
        }
        continue;
      }
    }
    push(out, makeMessage(message.role, blocks));
  }
  while (out[0]?.role === "assistant") out.shift();
  return out;
}

function push(out: MessageParam[], message: MessageParam) {
  const blocks = blocksOf(message);
  if (blocks.length === 0) return;
  const last = out.at(-1);
  if (last && last.role === message.role) {
    // tool_result blocks must come first in a user message.
    const merged = [...blocksOf(last), ...blocks];
    merged.sort((a, b) => Number(b.type === "tool_result") - Number(a.type === "tool_result"));
    last.content = merged;
    return;
  }
  out.push(makeMessage(message.role, blocks));
}

/** The text the assistant said in a message (tool calls left out). */
export function spokenText(message: MessageParam): string {
  return blocksOf(message)
    .flatMap((b) => (b.type === "text" ? [b.text] : []))
    .join("");
}
