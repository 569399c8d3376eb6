/**
 * A local fake of Twilio on a real socket, for the transfer to a person:
 * - the REST API's Calls resource (`/2010-04-01/Accounts/{AccountSid}/Calls.json` create, fetch,
 *   list, and `Calls/{CallSid}.json` update), with HTTP Basic auth and Twilio's error bodies;
 * - signed status callbacks to the call's `StatusCallback` for its `StatusCallbackEvent`s;
 * - on answer, the call's TwiML: `<Connect><Stream>` opens a signed, bidirectional Media Stream
 *   to the app (media-peer.ts), where the human's voice is a scripted tone.
 *
 * Tests script calls over HTTP (client.ts), so tests inside workerd can drive it too:
 * - `POST /_fake/scenarios` `{match, steps}`: a created call takes the oldest unused scenario
 *   whose `match` occurs in its `To` (scenario.ts has the steps); without one it is initiated,
 *   rings 50 ms later, and then rings until its `Timeout` makes it `no-answer`.
 * - `GET /_fake/calls?match=X`: the calls whose `To` contains X, with everything they did.
 * - `POST /_fake/calls/{sid}/answer` `{openStream?}` (the human picks up now), `…/tone`
 *   `{hz, ms, amplitude}`, `…/dtmf` `{digits}`, `…/hangup`, `…/drop` (the stream's connection is
 *   lost without `stop`; the call stays up).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";
import { json, listenLocal, readBody } from "../http.ts";
import { Call, type CallContext } from "./call.ts";
import type { MediaFrameEvent } from "./media-peer.ts";
import { errorBody, isTwilioError, parseCreateCall, type TwilioError } from "./rest.ts";
import { type ParsedStep, ScenarioSchema, StepSchema, ToneSchema } from "./scenario.ts";

export interface FakeTwilioOptions {
  accountSid: string;
  authToken: string;
  /** @default 0 (any free port) */
  port?: number;
  /** μ-law silence every 20 ms between the human's tones, as a phone line carries. @default true */
  silence?: boolean;
  /**
   * Called for every `media` message on every call's stream, the human's as it is sent and the
   * app's as it arrives, with `performance.now()`: a benchmark in the same process times the
   * bridge on one clock.
   */
  onMediaFrame?: (frame: MediaFrameEvent) => void;
  /**
   * When the app's side drops a call's media stream, Twilio runs the rest of the TwiML — none
   * after `<Connect><Stream>` — and hangs up at once. Off, the call stays up until the test hangs
   * it up (`humanHangUp`): its `completed` then comes when the test wants, e.g. once a restarted
   * app is back. @default true
   */
  hangUpWhenStreamDrops?: boolean;
}

export interface FakeTwilio {
  /** The REST base, in place of https://api.twilio.com, e.g. http://127.0.0.1:PORT */
  url: string;
  port: number;
  close(): Promise<void>;
}

const DEFAULT_STEPS: ParsedStep[] = z
  .array(StepSchema)
  .parse([{ status: "initiated" }, { status: "ringing", afterMs: 50 }]);
const CALLS = /^\/2010-04-01\/Accounts\/([^/]+)\/Calls(?:\/([^/]+))?\.json$/;
const CONTROL = /^\/_fake\/calls\/([^/]+)\/(answer|tone|dtmf|hangup|drop)$/;

export async function startFakeTwilio(options: FakeTwilioOptions): Promise<FakeTwilio> {
  const { accountSid, authToken } = options;
  const calls = new Map<string, Call>();
  const scenarios: { match: string; steps: ParsedStep[]; used: boolean }[] = [];
  const lifetime = new AbortController();
  const context: CallContext = {
    accountSid,
    authToken,
    silence: options.silence ?? true,
    hangUpWhenStreamDrops: options.hangUpWhenStreamDrops ?? true,
    signal: lifetime.signal,
    onMediaFrame: options.onMediaFrame,
  };

  async function api(req: IncomingMessage, res: ServerResponse, path: string) {
    const [user, password] = basicAuth(req);
    const route = CALLS.exec(path);
    if (user !== accountSid || password !== authToken || (route && route[1] !== accountSid)) {
      res.setHeader("WWW-Authenticate", 'Basic realm="Twilio API"');
      return json(res, 401, {
        ...errorBody({ status: 401, code: 20003, message: "Authenticate" }),
        detail: "Your AccountSid or AuthToken was incorrect.",
      });
    }
    const callSid = route?.[2];
    const call = callSid ? calls.get(callSid) : undefined;
    if (!route || (callSid && !call)) return notFound(res, path);
    if (req.method === "POST" && !call) {
      const request = parseCreateCall(await readForm(req));
      if (isTwilioError(request)) return twilioError(res, request);
      const created = new Call(request, context);
      calls.set(created.sid, created);
      const scenario = scenarios.find((s) => !s.used && request.to.includes(s.match));
      if (scenario) scenario.used = true;
      created.start(scenario?.steps ?? DEFAULT_STEPS);
      return json(res, 201, created.resource());
    }
    if (req.method === "POST" && call) {
      const error = call.update(await readForm(req));
      return error ? twilioError(res, error) : json(res, 200, call.resource());
    }
    if (req.method === "GET" && call) return json(res, 200, call.resource());
    if (req.method === "GET") {
      const resources = [...calls.values()].reverse().map((c) => c.resource());
      return json(res, 200, { calls: resources, page: 0, page_size: 50, uri: path });
    }
    return twilioError(res, { status: 405, code: 20004, message: "Method not allowed" });
  }

  async function control(req: IncomingMessage, res: ServerResponse, url: URL) {
    if (url.pathname === "/_fake/scenarios" && req.method === "POST") {
      const parsed = ScenarioSchema.safeParse(JSON.parse(await readBody(req)));
      if (!parsed.success) return json(res, 400, { error: parsed.error.issues });
      scenarios.push({ ...parsed.data, used: false });
      return json(res, 200, { ok: true });
    }
    if (url.pathname === "/_fake/calls" && req.method === "GET") {
      const match = url.searchParams.get("match") ?? "";
      const found = [...calls.values()].filter((c) => c.request.to.includes(match));
      return json(
        res,
        200,
        found.map((c) => c.record()),
      );
    }
    const route = CONTROL.exec(url.pathname);
    const call = route?.[1] ? calls.get(route[1]) : undefined;
    if (!route || req.method !== "POST") return json(res, 404, { error: "no such fake route" });
    if (!call) return json(res, 404, { error: `no call ${route[1]}` });
    if (route[2] === "hangup") {
      call.hangUp();
      return json(res, 200, { ok: true });
    }
    if (route[2] === "drop") {
      if (await call.dropStream()) return json(res, 200, { ok: true });
      return json(res, 409, { error: "the call has no open Media Stream" });
    }
    const body: unknown = JSON.parse((await readBody(req)) || "{}");
    if (route[2] === "answer") {
      const parsed = z.object({ openStream: z.boolean().optional() }).safeParse(body);
      if (!parsed.success) return json(res, 400, { error: parsed.error.issues });
      if (call.answer(parsed.data.openStream)) return json(res, 200, { ok: true });
      return json(res, 409, { error: `call is ${call.status}`, errors: call.record().errors });
    }
    if (route[2] === "dtmf") {
      const parsed = z.object({ digits: z.string().regex(/^[0-9*#A-D]+$/) }).safeParse(body);
      if (!parsed.success) return json(res, 400, { error: parsed.error.issues });
      call.dtmf(parsed.data.digits);
      return json(res, 200, { ok: true });
    }
    const tone = ToneSchema.safeParse(body);
    if (!tone.success) return json(res, 400, { error: tone.error.issues });
    // Answers at once: a test may act while the human is still speaking.
    void call.tone(tone.data);
    return json(res, 202, { ok: true, ms: tone.data.ms });
  }

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://fake");
      if (url.pathname.startsWith("/_fake/")) return await control(req, res, url);
      return await api(req, res, url.pathname);
    } catch (error) {
      if (res.headersSent) res.destroy();
      else json(res, 500, { error: `fake Twilio: ${String(error)}` });
    }
  });

  const listening = await listenLocal(server, options.port);
  return {
    ...listening,
    close: () => {
      lifetime.abort();
      for (const call of calls.values()) call.dispose();
      return listening.close();
    },
  };
}

function basicAuth(req: IncomingMessage): [string | undefined, string | undefined] {
  const encoded = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
  if (!encoded) return [undefined, undefined];
  const decoded = Buffer.from(encoded, "base64").toString("utf8");
  const at = decoded.indexOf(":");
  return at < 0 ? [decoded, undefined] : [decoded.slice(0, at), decoded.slice(at + 1)];
}

function notFound(res: ServerResponse, path: string) {
  const message = `The requested resource ${path} was not found`;
  twilioError(res, { status: 404, code: 20404, message });
}

function twilioError(res: ServerResponse, error: TwilioError) {
  json(res, error.status, errorBody(error));
}

/** A form-encoded body, as the REST API takes; anything else reads as no params. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = await readBody(req);
  const form = req.headers["content-type"]?.startsWith("application/x-www-form-urlencoded");
  return new URLSearchParams(form ? body : "");
}
