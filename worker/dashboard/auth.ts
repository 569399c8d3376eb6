/**
 * Who is asking: the session cookie, checked (signature, expiry) and then looked up. Routes
 * behind `requireAgent` get the agent from `c.var.agent`.
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { type DashboardAgent, findAgentBySession } from "../db/agents.ts";
import { createDatabase } from "../db/client.ts";
import { checkToken } from "./session-token.ts";
import type { DashboardSettings } from "./settings.ts";

export const SESSION_COOKIE = "convonet_agent";
/** Sent only to the agent API, never to the caller's pages on the same host. */
const COOKIE_PATH = "/api/agent";

export interface DashboardVariables {
  settings: DashboardSettings;
  agent: DashboardAgent & { expiresAt: Date };
  tokenHash: string;
}
export type DashboardContext = Context<{ Bindings: Env; Variables: DashboardVariables }>;

export function setSessionCookie(c: DashboardContext, token: string, expiresAt: Date) {
  setCookie(c, SESSION_COOKIE, token, {
    path: COOKIE_PATH,
    httpOnly: true,
    secure: true,
    sameSite: c.var.settings.cookieSameSite,
    expires: expiresAt,
  });
}

export function clearSessionCookie(c: DashboardContext) {
  deleteCookie(c, SESSION_COOKIE, {
    path: COOKIE_PATH,
    secure: true,
    sameSite: c.var.settings.cookieSameSite,
  });
}

const signedOut = () => new HTTPException(401, { message: "Please sign in." });

export const requireAgent = createMiddleware<{ Bindings: Env; Variables: DashboardVariables }>(
  async (c, next) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (!token) throw signedOut();
    const tokenHash = await checkToken(c.env.PIN_SECRET, token);
    if (!tokenHash) throw signedOut();
    const agent = await findAgentBySession(createDatabase(c.env), tokenHash);
    if (!agent) throw signedOut();
    c.set("agent", agent);
    c.set("tokenHash", tokenHash);
    await next();
  },
);
