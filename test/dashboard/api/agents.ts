/**
 * Agents, sessions and transfers of the API tests, each test's own (unique login, extension
 * and department), in the shared workerd test database.
 */
import { env, exports } from "cloudflare:workers";
import { hashPassword } from "../../../worker/dashboard/password.ts";
import { createDatabase } from "../../../worker/db/client.ts";
import { callSessions, humanAgents, transfers, users } from "../../../worker/db/schema.ts";
import { hashPin } from "../../../worker/pin-hash.ts";

export const db = () => createDatabase(env);
export const DASHBOARD = "https://dashboard.convonet.test";
export const API = "https://api.convonet.test/api/agent";

let ipCounter = 0;
export function uniqueIp(): string {
  ipCounter += 1;
  return `203.0.113.${ipCounter % 250}-${crypto.randomUUID().slice(0, 6)}`;
}

export async function createAgent(options: { department?: string; active?: boolean } = {}) {
  const tag = crypto.randomUUID().slice(0, 8);
  const password = `pw-${crypto.randomUUID()}`;
  const [agent] = await db()
    .insert(humanAgents)
    .values({
      name: `Agent ${tag}`,
      login: `agent-${tag}`,
      sipExtension: `9${tag}`,
      department: options.department ?? `dept-${tag}`,
      active: options.active ?? true,
      passwordHash: await hashPassword(password),
    })
    .returning();
  if (!agent) throw new Error("agent not created");
  return { ...agent, password };
}

/** A caller's session transferred to `department`. */
export async function createTransfer(department: string) {
  const [user] = await db()
    .insert(users)
    .values({
      name: "Dana Caller",
      email: `${crypto.randomUUID()}@test.convonet.dev`,
      pinHash: await hashPin(crypto.randomUUID(), env.PIN_SECRET),
    })
    .returning();
  if (!user) throw new Error("user not created");
  const sessionId = [...crypto.getRandomValues(new Uint8Array(32))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  await db().insert(callSessions).values({ id: sessionId, userId: user.id });
  await db()
    .insert(transfers)
    .values({
      sessionId,
      userId: user.id,
      department,
      extension: "2001",
      reason: "Billing question",
      status: "ringing",
      summary: "Dana asks why the invoice doubled. The assistant could not explain the charge.",
      caller: { name: "Dana Caller", email: user.email, teams: [{ name: "Ops", role: "owner" }] },
      transcript: [{ role: "user", text: "Why did my invoice double?", at: 1 }],
    });
  return { sessionId, user };
}

export function call(
  path: string,
  init: {
    method?: string;
    body?: unknown;
    cookie?: string;
    origin?: string | null;
    ip?: string;
  } = {},
) {
  const headers = new Headers();
  if (init.origin !== null) headers.set("Origin", init.origin ?? DASHBOARD);
  if (init.cookie) headers.set("Cookie", init.cookie);
  if (init.ip) headers.set("cf-connecting-ip", init.ip);
  if (init.body !== undefined) headers.set("Content-Type", "application/json");
  return exports.default.fetch(`${API}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

/** Signs in and returns the `name=value` of the session cookie. */
export async function signIn(agent: { login: string; password: string }): Promise<string> {
  const res = await call("/login", {
    body: { login: agent.login, password: agent.password },
    ip: uniqueIp(),
  });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status}`);
  const cookie = res.headers.get("Set-Cookie")?.split(";")[0];
  if (!cookie) throw new Error("no session cookie");
  return cookie;
}
