/**
 * The agent dashboard's API, mounted at /api/agent: sign-in, the signed-in agent's SIP
 * settings, the context of a transferred caller and the call log. The dashboard is a static
 * site on another origin: it calls here with the session cookie, and only the origins in
 * DASHBOARD_ORIGINS may.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import type * as z from "zod/mini";
import {
  createAgentSession,
  findAgentForLogin,
  findTransferContext,
  recentAgentCalls,
  recordAgentCall,
  revokeAgentSession,
  saveCallNotes,
} from "../db/agents.ts";
import { createDatabase } from "../db/client.ts";
import { log } from "../log.ts";
import {
  clearSessionCookie,
  type DashboardVariables,
  requireAgent,
  setSessionCookie,
} from "./auth.ts";
import { tryLoginAttempt } from "./login-throttle.ts";
import { verifyPassword } from "./password.ts";
import { issueToken } from "./session-token.ts";
import { dashboardSettings } from "./settings.ts";
import { turnServer } from "./turn-credentials.ts";
import { toAgentCall, toTransferContext } from "./views.ts";
import {
  type AgentCall,
  loginRequest,
  type Me,
  notesRequest,
  recordCallRequest,
  SESSION_ID,
} from "./wire.ts";

const RECENT_CALLS = 25;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const dashboardApi = new Hono<{ Bindings: Env; Variables: DashboardVariables }>();

dashboardApi.use(async (c, next) => {
  c.set("settings", dashboardSettings(c.env));
  await next();
});

// A browser names the page's origin on every cross-origin request and every POST: anything
// but the dashboard (or the API's own origin) is refused outright, not just left unreadable.
dashboardApi.use(async (c, next) => {
  const origin = c.req.header("origin");
  if (
    origin &&
    origin !== new URL(c.req.url).origin &&
    !c.var.settings.allowedOrigins.includes(origin)
  ) {
    throw new HTTPException(403, { message: "This origin may not use the agent API." });
  }
  await next();
});

dashboardApi.use(
  cors({
    origin: (origin, c) =>
      dashboardSettings(c.env).allowedOrigins.includes(origin) ? origin : null,
    credentials: true,
    allowMethods: ["GET", "POST"],
    allowHeaders: ["Content-Type"],
    exposeHeaders: ["Retry-After"],
    maxAge: 600,
  }),
);

async function body<T>(c: { req: { json(): Promise<unknown> } }, schema: z.ZodMiniType<T>) {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new HTTPException(400, { message: "Expected a JSON body." });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new HTTPException(400, { message: "Invalid request." });
  return parsed.data;
}

dashboardApi.post("/login", async (c) => {
  const { login, password } = await body(c, loginRequest);
  const attempt = await tryLoginAttempt(
    c.env,
    login,
    c.req.header("cf-connecting-ip") ?? "unknown",
  );
  if (!attempt.allowed) {
    c.header("Retry-After", String(attempt.retryAfterSeconds));
    return c.json(
      {
        error: "Too many failed sign-ins. Try again later.",
        retryAfterSeconds: attempt.retryAfterSeconds,
      },
      429,
    );
  }
  const db = createDatabase(c.env);
  const agent = await findAgentForLogin(db, login);
  // Always one PBKDF2, so an unknown login takes as long as a wrong password.
  const ok = await verifyPassword(password, agent?.passwordHash ?? null);
  if (!agent || !ok) {
    log.info("dashboard", "agent_sign_in_refused");
    throw new HTTPException(401, { message: "That login and password do not match." });
  }
  await attempt.refund();
  const issued = await issueToken(c.env.PIN_SECRET, c.var.settings.sessionLifetimeMs);
  await createAgentSession(db, agent.id, issued.tokenHash, issued.expiresAt);
  setSessionCookie(c, issued.token, issued.expiresAt);
  log.info("dashboard", "agent_sign_in", { extension: agent.extension });
  return c.json(await meOf(c.var.settings, { ...agent, expiresAt: issued.expiresAt }));
});

dashboardApi.post("/logout", requireAgent, async (c) => {
  await revokeAgentSession(createDatabase(c.env), c.var.tokenHash);
  clearSessionCookie(c);
  return c.json({ ok: true });
});

dashboardApi.get("/me", requireAgent, async (c) => c.json(await meOf(c.var.settings, c.var.agent)));

dashboardApi.get("/transfers/:sessionId", requireAgent, async (c) => {
  const sessionId = c.req.param("sessionId");
  if (!SESSION_ID.test(sessionId))
    throw new HTTPException(400, { message: "Malformed session id." });
  const row = await findTransferContext(createDatabase(c.env), c.var.agent, sessionId);
  // Not found and not yours look the same: the answer must not tell whether a session exists.
  if (!row) throw new HTTPException(404, { message: "No transfer of that session for you." });
  return c.json(toTransferContext(row));
});

dashboardApi.get("/calls", requireAgent, async (c) => {
  const rows = await recentAgentCalls(createDatabase(c.env), c.var.agent.id, RECENT_CALLS);
  return c.json({ calls: rows.map(toAgentCall) satisfies AgentCall[] });
});

dashboardApi.post("/calls", requireAgent, async (c) => {
  const call = await body(c, recordCallRequest);
  const id = await recordAgentCall(createDatabase(c.env), c.var.agent, {
    sessionId: call.sessionId,
    remoteIdentity: call.remoteIdentity,
    outcome: call.outcome,
    startedAt: new Date(call.startedAt),
    answeredAt: call.answeredAt === null ? null : new Date(call.answeredAt),
    endedAt: new Date(call.endedAt),
  });
  return c.json({ id }, 201);
});

dashboardApi.post("/calls/:id/notes", requireAgent, async (c) => {
  const callId = c.req.param("id");
  if (!UUID.test(callId)) throw new HTTPException(404, { message: "No such call." });
  const notes = await body(c, notesRequest);
  const saved = await saveCallNotes(createDatabase(c.env), c.var.agent.id, callId, notes);
  if (!saved) throw new HTTPException(404, { message: "No such call." });
  return c.json({ ok: true });
});

async function meOf(
  settings: DashboardVariables["settings"],
  agent: { name: string; login: string; extension: string; department: string; expiresAt: Date },
): Promise<Me> {
  // TURN credentials that last as long as the sign-in: a call answered hours later relays too.
  const iceServers =
    settings.turnUrls.length > 0
      ? [
          ...settings.iceServers,
          await turnServer(settings.turnUrls, settings.turnSecret, agent.login, agent.expiresAt),
        ]
      : settings.iceServers;
  return {
    agent: {
      name: agent.name,
      login: agent.login,
      extension: agent.extension,
      department: agent.department,
    },
    sip: { wssUrl: settings.wssUrl, domain: settings.sipDomain, iceServers },
    sessionExpiresAt: agent.expiresAt.getTime(),
  };
}
