/**
 * Twilio's two ways into a session during a transfer: status callbacks (form posts, checked
 * against `X-Twilio-Signature` on the public URL Twilio called) and the bidirectional media
 * stream (a WebSocket the session accepts only with its single-use token). Both are routed to
 * the caller's CallSession by the session id in the path.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { isCallStatus } from "../transfer/state.ts";
import { isSignedByTwilio, publicUrlOf } from "../transfer/twilio-webhooks.ts";
import { config } from "./config.ts";
import { INTERNAL_HEADER_PREFIX, SOCKET_ROLE_HEADER } from "./internal-headers.ts";
import { log } from "./log.ts";

const SESSION_ID = /^[0-9a-f]{64}$/;
const CALL_SID = /^CA[0-9a-f]{32}$/;

export const twilioRoutes = new Hono<{ Bindings: Env }>();

function sessionStub(env: Env, sessionId: string) {
  if (!SESSION_ID.test(sessionId)) throw new HTTPException(404, { message: "Unknown session." });
  try {
    return env.CALL_SESSION.get(env.CALL_SESSION.idFromString(sessionId));
  } catch {
    throw new HTTPException(404, { message: "Unknown session." });
  }
}

function transferSettings(env: Env) {
  const settings = config(env).transfer;
  if (!settings) throw new HTTPException(404, { message: "Transfers are not set up." });
  return settings;
}

twilioRoutes.post(
  "/twilio/status/:sessionId",
  bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.json({ error: "Too large." }, 413) }),
  async (c) => {
    const settings = transferSettings(c.env);
    const url = new URL(c.req.url);
    const form = await c.req.formData().catch(() => undefined);
    if (!form) throw new HTTPException(400, { message: "Expected a form body." });
    const params: Record<string, string> = {};
    for (const [name, value] of form) if (typeof value === "string") params[name] = value;
    const signature = c.req.header("x-twilio-signature");
    if (
      !isSignedByTwilio(
        settings,
        signature,
        publicUrlOf(settings, url.pathname + url.search),
        params,
      )
    ) {
      log.warn("twilio", "status_callback_refused", {
        session: c.req.param("sessionId"),
        why: signature ? "bad signature" : "no signature",
      });
      throw new HTTPException(403, { message: "Invalid signature." });
    }
    const callSid = params.CallSid ?? "";
    const status = params.CallStatus ?? "";
    if (!CALL_SID.test(callSid) || !isCallStatus(status)) {
      throw new HTTPException(400, { message: "Missing or unknown CallSid or CallStatus." });
    }
    await sessionStub(c.env, c.req.param("sessionId")).twilioStatus(callSid, status);
    return c.body(null, 204);
  },
);

twilioRoutes.get("/twilio/media/:sessionId", async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new HTTPException(426, { message: "Expected a WebSocket upgrade." });
  }
  const settings = transferSettings(c.env);
  // Twilio signs the stream's handshake too; the token in `start` is what admits it, but a
  // signature that is present must be right.
  const signature = c.req.header("x-twilio-signature");
  if (signature !== undefined) {
    const url = new URL(c.req.url);
    const called = publicUrlOf(settings, url.pathname + url.search).replace(/^http/, "ws");
    if (!isSignedByTwilio(settings, signature, called, {})) {
      log.warn("twilio", "media_stream_refused", {
        session: c.req.param("sessionId"),
        why: "bad signature",
      });
      throw new HTTPException(403, { message: "Invalid signature." });
    }
  }
  const stub = sessionStub(c.env, c.req.param("sessionId"));
  const headers = new Headers(c.req.raw.headers);
  for (const name of [...headers.keys()])
    if (name.startsWith(INTERNAL_HEADER_PREFIX)) headers.delete(name);
  headers.set(SOCKET_ROLE_HEADER, "media");
  return stub.fetch(new Request(c.req.raw, { headers }));
});
