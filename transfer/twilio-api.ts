/**
 * Twilio's REST API, the two calls a transfer needs: create an outbound call to the PBX, and end
 * it. Plain form-encoded `fetch` with Basic auth — the `twilio` package's REST client would add
 * ~570 KB gzip and ~100 ms of start-up to the Worker for the same two requests.
 */
import type { TransferConfig } from "../worker/config.ts";

export class TwilioError extends Error {
  /** Twilio's own error code (e.g. 21220), when it sent one. */
  readonly code: number | undefined;
  readonly status: number;
  /** Worth another try: a network failure, 429 or 5xx. */
  readonly retryable: boolean;

  constructor(message: string, status: number, code?: number) {
    super(message);
    this.name = "TwilioError";
    this.status = status;
    this.code = code;
    this.retryable = status === 0 || status === 429 || status >= 500;
  }
}

export interface CreateCallRequest {
  /** `sip:EXT@DOMAIN?X-Header=value&…` */
  to: string;
  twiml: string;
  statusCallback: string;
  timeoutSeconds: number;
  signal?: AbortSignal;
}

export interface CallResource {
  sid: string;
  status: string;
}

export async function createCall(
  config: TransferConfig,
  request: CreateCallRequest,
): Promise<CallResource> {
  const form = new URLSearchParams({
    To: request.to,
    From: config.callerId,
    Twiml: request.twiml,
    StatusCallback: request.statusCallback,
    StatusCallbackMethod: "POST",
    Timeout: String(request.timeoutSeconds),
  });
  for (const event of ["initiated", "ringing", "answered", "completed"]) {
    form.append("StatusCallbackEvent", event);
  }
  if (config.sipAuth) {
    form.set("SipAuthUsername", config.sipAuth.username);
    form.set("SipAuthPassword", config.sipAuth.password);
  }
  return callApi(config, "Calls.json", form, request.signal);
}

/**
 * Ends a call: `canceled` while it has not been answered, `completed` once it has. Twilio
 * refuses the wrong one with 21220 ("not in-progress"), so on that the other is tried.
 */
export async function endCall(
  config: TransferConfig,
  callSid: string,
  answered: boolean,
  signal?: AbortSignal,
): Promise<CallResource> {
  const first = answered ? "completed" : "canceled";
  const path = `Calls/${encodeURIComponent(callSid)}.json`;
  try {
    return await callApi(config, path, new URLSearchParams({ Status: first }), signal);
  } catch (error) {
    if (!(error instanceof TwilioError) || error.code !== 21220) throw error;
    const second = answered ? "canceled" : "completed";
    return callApi(config, path, new URLSearchParams({ Status: second }), signal);
  }
}

async function callApi(
  config: TransferConfig,
  path: string,
  form: URLSearchParams,
  signal: AbortSignal | undefined,
): Promise<CallResource> {
  const url = `${config.apiBaseUrl}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        authorization: `Basic ${btoa(`${config.accountSid}:${config.authToken}`)}`,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: form.toString(),
      signal: signal ?? AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new TwilioError(
      `Twilio could not be reached: ${error instanceof Error ? error.message : "network error"}`,
      0,
    );
  }
  const body: unknown = await response.json().catch(() => undefined);
  const fields = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  if (!response.ok) {
    const code = typeof fields.code === "number" ? fields.code : undefined;
    const message = typeof fields.message === "string" ? fields.message : response.statusText;
    throw new TwilioError(`Twilio answered ${response.status}: ${message}`, response.status, code);
  }
  if (typeof fields.sid !== "string" || !/^CA[0-9a-f]{32}$/.test(fields.sid)) {
    throw new TwilioError("Twilio answered without a call SID.", 502);
  }
  return { sid: fields.sid, status: typeof fields.status === "string" ? fields.status : "" };
}
