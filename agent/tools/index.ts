import { z } from "zod";
import { describeError, log } from "../../worker/log.ts";
import { CALENDAR_TOOLS } from "./calendar.ts";
import { CALL_TOOLS } from "./call.ts";
import { REMINDER_TOOLS } from "./reminders.ts";
import { TEAM_TOOLS } from "./teams.ts";
import { TODO_TOOLS } from "./todos.ts";
import { TRANSFER_TOOLS } from "./transfer.ts";
import {
  type AgentTool,
  fail,
  type ToolContext,
  ToolInputError,
  type ToolResult,
} from "./types.ts";

export type { AgentTool, ToolContext, ToolResult } from "./types.ts";

/** Every tool the agent has. There is no raw-SQL tool. */
export const TOOLS: AgentTool[] = [
  ...TODO_TOOLS,
  ...REMINDER_TOOLS,
  ...CALENDAR_TOOLS,
  ...TEAM_TOOLS,
  ...TRANSFER_TOOLS,
  ...CALL_TOOLS,
];

export interface AnthropicToolSpec {
  name: string;
  description: string;
  input_schema: { type: "object"; [key: string]: unknown };
}

/** Converted once per tool list and isolate, not per session: zod's JSON Schema export is not cheap. */
const converted = new WeakMap<AgentTool[], AnthropicToolSpec[]>();

export function toAnthropicTools(tools: AgentTool[]): AnthropicToolSpec[] {
  let specs = converted.get(tools);
  if (!specs) {
    specs = convertTools(tools);
    converted.set(tools, specs);
  }
  return specs;
}

function convertTools(tools: AgentTool[]): AnthropicToolSpec[] {
  return tools.map((tool) => {
    const { $schema: _ignored, ...schema } = z.toJSONSchema(tool.input, { io: "input" }) as Record<
      string,
      unknown
    >;
    return {
      name: tool.name,
      description: tool.description,
      input_schema: { ...schema, type: "object" },
    };
  });
}

/**
 * Runs one tool call from the model: validated input, a time limit, and every failure turned
 * into a short result the model can explain. Nothing internal (SQL, stack, values) leaks out.
 */
export async function runTool(
  name: string,
  rawInput: unknown,
  ctx: ToolContext,
  options: { timeoutMs?: number; tools?: AgentTool[] } = {},
): Promise<ToolResult> {
  const tool = (options.tools ?? TOOLS).find((t) => t.name === name);
  if (!tool) return fail(`There is no tool called ${name}.`);
  const parsed = tool.input.safeParse(rawInput ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    return fail(`Invalid input for ${name}. ${field}${issue?.message ?? "bad input"}`);
  }
  if (ctx.signal.aborted) return fail("Not run: the turn was cancelled.");
  const timeoutMs = options.timeoutMs ?? 5_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<ToolResult>((resolve) => {
    timer = setTimeout(
      () => resolve(fail(`The ${name} tool took too long and was stopped.`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([tool.run(parsed.data, ctx), timeout]);
  } catch (error) {
    if (error instanceof ToolInputError) return fail(error.message);
    log.error("tools", "tool_failed", { session: ctx.sessionId, tool: name, error });
    return fail(`The ${name} tool hit a problem: ${brief(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

/** A generic reason, never the SQL or values behind it. */
function brief(error: unknown): string {
  return describeError(error).startsWith("Error: Failed query")
    ? "the database did not answer."
    : "an internal error.";
}
