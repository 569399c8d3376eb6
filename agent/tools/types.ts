import type { z } from "zod";
import type { Database } from "../../worker/db/client.ts";

export interface ToolContext {
  db: Database;
  user: { id: string; name: string; timezone: string };
  sessionId: string;
  /** The turn's start, so every tool in a turn agrees on "now" (and tests control it). */
  now: Date;
  /** The turn's signal: a tool does not start writing once it has aborted. */
  signal: AbortSignal;
  /**
   * Asks the session to transfer the call to a person (the session owns the transfer); says
   * whether it is on its way, and if not, why.
   */
  requestTransfer(request: { department: string; reason: string }): Promise<TransferAnswer>;
  /**
   * Asks the session to end the call once this turn's reply has been heard (the session owns the
   * call); says whether it will, and if not, why. Absent where there is no call to end (the
   * tools' database tests).
   */
  endCall?(): Promise<EndCallAnswer>;
}

export type EndCallAnswer = { ok: true } | { ok: false; message: string };

export type TransferAnswer =
  | { ok: true; department: string; agentName: string | null; extension: string }
  | { ok: false; reason: "not_configured" | "busy_with_another" | "no_session"; message: string };

export type ToolResult =
  /** `content` goes to the model; `activity` is a short line for the caller's page. */
  | { ok: true; content: string; activity?: string }
  /** Short, safe, and something the model can explain to the caller. */
  | { ok: false; error: string };

export interface AgentTool<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  input: S;
  run(input: z.infer<S>, ctx: ToolContext): Promise<ToolResult>;
}

/** Declares a tool with its input type inferred from its schema. */
export function defineTool<S extends z.ZodType>(tool: AgentTool<S>): AgentTool {
  return tool as unknown as AgentTool;
}

export const ok = (content: string, activity?: string): ToolResult =>
  activity ? { ok: true, content, activity } : { ok: true, content };
export const fail = (error: string): ToolResult => ({ ok: false, error });

/** Thrown inside a tool for an error the caller should hear as it is. */
export class ToolInputError extends Error {}
