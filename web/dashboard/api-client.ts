/**
 * The Worker's agent API as seen from the dashboard: cross-origin fetches that carry the
 * HttpOnly session cookie, every answer validated against the shared wire schemas.
 */
import type * as z from "zod/mini";
import * as zm from "zod/mini";
import {
  agentCalls,
  apiError,
  type Me,
  me,
  type NotesRequest,
  type RecordCallRequest,
  type TransferContext,
  transferContext,
} from "../../worker/dashboard/wire.ts";

/** An answer other than success, in words fit for the agent. */
export class ApiError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

const recorded = zm.object({ id: zm.string() });
const ok = zm.object({ ok: zm.boolean() });

export class AgentApi {
  readonly baseUrl: string;
  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
  }

  async #request<T>(path: string, schema: z.ZodMiniType<T>, init: RequestInit = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(`/api/agent${path}`, this.baseUrl), {
        ...init,
        credentials: "include",
        headers: init.body ? { "Content-Type": "application/json" } : undefined,
      });
    } catch {
      throw new ApiError("The server cannot be reached. Check your network connection.", 0);
    }
    const data: unknown = await res.json().catch(() => null);
    if (!res.ok) {
      const error = apiError.safeParse(data);
      throw new ApiError(
        error.success ? error.data.error : `The server answered ${res.status}.`,
        res.status,
      );
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success)
      throw new ApiError("The server sent an answer this page does not understand.", res.status);
    return parsed.data;
  }

  me(): Promise<Me> {
    return this.#request("/me", me);
  }

  login(login: string, password: string): Promise<Me> {
    return this.#request("/login", me, {
      method: "POST",
      body: JSON.stringify({ login, password }),
    });
  }

  async logout(): Promise<void> {
    await this.#request("/logout", ok, { method: "POST", body: "{}" });
  }

  transfer(sessionId: string): Promise<TransferContext> {
    return this.#request(`/transfers/${encodeURIComponent(sessionId)}`, transferContext);
  }

  async recentCalls() {
    return (await this.#request("/calls", agentCalls)).calls;
  }

  async recordCall(call: RecordCallRequest): Promise<string> {
    return (await this.#request("/calls", recorded, { method: "POST", body: JSON.stringify(call) }))
      .id;
  }

  async saveNotes(callId: string, notes: NotesRequest): Promise<void> {
    await this.#request(`/calls/${encodeURIComponent(callId)}/notes`, ok, {
      method: "POST",
      body: JSON.stringify(notes satisfies NotesRequest),
    });
  }
}
