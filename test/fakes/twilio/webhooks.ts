/**
 * Twilio's requests to the app: status callbacks and the fetch of a call's TwiML from its `Url`.
 * Form-encoded (in the query string for GET), signed with `X-Twilio-Signature`, with an
 * idempotency token and Twilio's User-Agent; no retries; Twilio gives up after 15 s.
 */
import { randomUUID } from "node:crypto";
import { type CallbackEvent, rfc2822 } from "./rest.ts";
import type { CallbackRecord } from "./scenario.ts";
import { twilioSignature } from "./signature.ts";

const WEBHOOK_TIMEOUT_MS = 15_000;

export interface CallIdentity {
  accountSid: string;
  callSid: string;
  from: string;
  to: string;
}

/** The params of one call-progress event, in the order Twilio lists them. */
export function callbackParams(
  call: CallIdentity,
  callStatus: string,
  sequenceNumber: number | string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    AccountSid: call.accountSid,
    ApiVersion: "2010-04-01",
    CallSid: call.callSid,
    CallStatus: callStatus,
    CallbackSource: "call-progress-events",
    Called: call.to,
    Caller: call.from,
    Direction: "outbound-api",
    From: call.from,
    SequenceNumber: String(sequenceNumber),
    Timestamp: rfc2822(new Date()),
    To: call.to,
    ...extra,
  };
}

export interface WebhookTarget {
  url: string;
  method: "GET" | "POST";
  authToken: string;
  /** Aborted when the fake closes. */
  signal: AbortSignal;
}

/** The status callbacks of one call: numbered, subscribed events only, sent one at a time. */
export class StatusCallbacks {
  readonly records: CallbackRecord[] = [];
  readonly #target: WebhookTarget | null;
  readonly #events: ReadonlySet<CallbackEvent>;
  #sequence = 0;
  #queue: Promise<void> = Promise.resolve();

  constructor(target: WebhookTarget | null, events: ReadonlySet<CallbackEvent>) {
    this.#target = target;
    this.#events = events;
  }

  /** A call-progress event, if the call subscribed to it. */
  event(call: CallIdentity, event: CallbackEvent, status: string, extra: Record<string, string>) {
    if (this.#events.has(event)) this.#send(callbackParams(call, status, this.#sequence++, extra));
  }

  /** A scripted raw callback; `SequenceNumber` in `params` reuses a number (a duplicate). */
  raw(call: CallIdentity, status: string, params: Record<string, string>): void {
    const sequence = params.SequenceNumber ?? this.#sequence++;
    this.#send(callbackParams(call, status, sequence, params));
  }

  /** In order: a slow answer from the app holds back the next callback. */
  #send(params: Record<string, string>): void {
    const target = this.#target;
    if (!target) return;
    this.#queue = this.#queue.then(async () => {
      const { response, error, url } = await request(target, params);
      await response?.body?.cancel();
      this.records.push({
        url,
        CallStatus: params.CallStatus ?? "",
        SequenceNumber: params.SequenceNumber ?? "",
        params,
        httpStatus: response?.status ?? null,
        ...(error ? { error } : {}),
      });
    });
  }
}

/** The call's TwiML from its `Url`, requested as Twilio does when the call is answered. */
export async function fetchTwiml(
  target: WebhookTarget,
  call: CallIdentity,
): Promise<{ twiml: string } | { error: string }> {
  const { CallbackSource, SequenceNumber, Timestamp, ...params } = callbackParams(
    call,
    "in-progress",
    0,
  );
  const { response, error } = await request(target, params);
  if (!response) return { error: `11200 HTTP retrieval failure: ${error}` };
  if (!response.ok) {
    await response.body?.cancel();
    return { error: `11200 HTTP retrieval failure: ${target.url} answered ${response.status}` };
  }
  return { twiml: await response.text() };
}

async function request(
  target: WebhookTarget,
  params: Record<string, string>,
): Promise<{ url: string; response?: Response; error?: string }> {
  const { method, authToken } = target;
  const form = new URLSearchParams(params).toString();
  const url =
    method === "GET" ? `${target.url}${target.url.includes("?") ? "&" : "?"}${form}` : target.url;
  const headers: Record<string, string> = {
    "X-Twilio-Signature": twilioSignature(authToken, url, method === "GET" ? {} : params),
    "I-Twilio-Idempotency-Token": randomUUID(),
    "User-Agent": "TwilioProxy/1.1",
    Accept: "*/*",
  };
  if (method === "POST") headers["Content-Type"] = "application/x-www-form-urlencoded";
  try {
    const response = await fetch(url, {
      method,
      headers,
      body: method === "POST" ? form : undefined,
      signal: AbortSignal.any([target.signal, AbortSignal.timeout(WEBHOOK_TIMEOUT_MS)]),
    });
    return { url, response };
  } catch (error) {
    return { url, error: error instanceof Error ? error.message : String(error) };
  }
}
