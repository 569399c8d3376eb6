import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { PROTOCOL_VERSION } from "../protocol/messages.ts";
import { config } from "./config.ts";
import { dashboardApi } from "./dashboard/api.ts";
import {
  CLIENT_IP_HEADER,
  INTERNAL_HEADER_PREFIX,
  SESSION_MODE_HEADER,
} from "./internal-headers.ts";
import { log } from "./log.ts";
import { twilioRoutes } from "./twilio-routes.ts";

const SESSION_ID = /^[0-9a-f]{64}$/;

export const app = new Hono<{ Bindings: Env }>();

app.get("/api/health", (c) => c.json({ ok: true, protocol: PROTOCOL_VERSION }));

/** The human agents' dashboard (a static site on its own origin; CORS in the sub-app). */
app.route("/api/agent", dashboardApi);

/**
 * The caller's WebSocket. Without `?session=` it opens a fresh CallSession; with one it
 * reaches that session's object, which then asks for the resume token in the first message
 * (never in the URL, where it would land in logs).
 */
app.get("/ws", async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new HTTPException(426, { message: "Expected a WebSocket upgrade." });
  }
  // A page on another site must not open sessions with the caller's cookies or address.
  const origin = c.req.header("origin");
  if (origin && URL.parse(origin)?.host !== new URL(c.req.url).host) {
    throw new HTTPException(403, { message: "Cross-origin WebSocket refused." });
  }
  const sessionParam = c.req.query("session");
  let id: DurableObjectId;
  if (sessionParam === undefined) {
    id = c.env.CALL_SESSION.newUniqueId();
  } else {
    if (!SESSION_ID.test(sessionParam)) {
      throw new HTTPException(400, { message: "Malformed session id." });
    }
    try {
      id = c.env.CALL_SESSION.idFromString(sessionParam);
    } catch {
      throw new HTTPException(400, { message: "Unknown session id." });
    }
  }
  const headers = new Headers(c.req.raw.headers);
  for (const name of [...headers.keys()])
    if (name.startsWith(INTERNAL_HEADER_PREFIX)) headers.delete(name);
  headers.set(CLIENT_IP_HEADER, c.req.header("cf-connecting-ip") ?? "unknown");
  headers.set(SESSION_MODE_HEADER, sessionParam === undefined ? "new" : "resume");
  // Placed where the turns are quickest (config.ts); a hint only counts when the object is new.
  const locationHint = sessionParam === undefined ? config(c.env).sessionLocationHint : undefined;
  const stub = c.env.CALL_SESSION.get(id, locationHint ? { locationHint } : undefined);
  return stub.fetch(new Request(c.req.raw, { headers }));
});

app.route("/", twilioRoutes);

app.notFound((c) => c.json({ error: "Not found." }, 404));

app.onError((error, c) => {
  if (error instanceof HTTPException) return c.json({ error: error.message }, error.status);
  log.error("worker", "unhandled_error", { path: c.req.path, error });
  return c.json({ error: "Something went wrong." }, 500);
});
