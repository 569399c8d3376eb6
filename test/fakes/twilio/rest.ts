/**
 * The Calls resource's request checks, errors and JSON, as Twilio's 2010-04-01 API has them.
 * Errors are `{code, message, more_info, status}` with Twilio's codes: 20003 (auth), 20404
 * (no such resource), 21201 (no To), 21211 (bad To), 21213 (no From), 21212 (bad From), 21205
 * (Url missing or invalid), 21208 (Timeout), 21209 (method), 21609 (StatusCallback), 21626
 * (StatusCallbackEvent), 21220 (call not in a state that allows the update).
 */
import { randomBytes } from "node:crypto";
import type { CallStatus } from "./scenario.ts";

export interface TwilioError {
  status: number;
  code: number;
  message: string;
}

export function errorBody(error: TwilioError) {
  return {
    code: error.code,
    message: error.message,
    more_info: `https://www.twilio.com/docs/errors/${error.code}`,
    status: error.status,
  };
}

const bad = (code: number, message: string): TwilioError => ({ status: 400, code, message });

export const CALLBACK_EVENTS = ["initiated", "ringing", "answered", "completed"] as const;
export type CallbackEvent = (typeof CALLBACK_EVENTS)[number];

export interface CreateCallRequest {
  to: string;
  from: string;
  twiml?: string;
  url?: string;
  method: "GET" | "POST";
  statusCallback?: string;
  statusCallbackMethod: "GET" | "POST";
  events: Set<CallbackEvent>;
  /** Seconds to ring before giving up as `no-answer`. */
  timeout: number;
  /** Everything posted, SipAuthPassword redacted; repeated params space-separated. */
  params: Record<string, string>;
}

const E164 = /^\+[1-9]\d{1,14}$/;
const SIP = /^sip:[^@\s]+@[^\s?;]+(?:[;?]\S*)?$/i;
const CLIENT = /^client:\S+$/;

export function parseCreateCall(form: URLSearchParams): CreateCallRequest | TwilioError {
  const one = (name: string) => form.get(name) ?? undefined;
  const to = one("To");
  if (!to) return bad(21201, "No 'To' number is specified");
  if (!E164.test(to) && !SIP.test(to) && !CLIENT.test(to)) {
    return bad(21211, `The 'To' number ${to} is not a valid phone number.`);
  }
  const from = one("From");
  if (!from) return bad(21213, "No 'From' number is specified");
  // Calling a phone number needs a phone number to call from; SIP and client calls do not.
  if (E164.test(to) && !E164.test(from)) {
    return bad(21212, `The 'From' number ${from} is not a valid phone number.`);
  }
  const twiml = one("Twiml");
  const url = one("Url");
  if (!twiml && !url) return bad(21205, "Url parameter is required.");
  if (twiml && url) return bad(21205, "Twiml and Url are mutually exclusive.");
  if (url && !isHttpUrl(url)) return bad(21205, `Url is not a valid URL: ${url}`);
  const method = (one("Method") ?? "POST").toUpperCase();
  const statusCallbackMethod = (one("StatusCallbackMethod") ?? "POST").toUpperCase();
  if (!isMethod(method) || !isMethod(statusCallbackMethod)) return bad(21209, "Invalid Method");
  const statusCallback = one("StatusCallback");
  if (statusCallback !== undefined && !isHttpUrl(statusCallback)) {
    return bad(21609, `StatusCallback is not a valid URL: ${statusCallback}`);
  }
  const events = new Set<CallbackEvent>();
  for (const event of form.getAll("StatusCallbackEvent").flatMap((v) => v.split(/\s+/))) {
    if (!event) continue;
    if (!isEvent(event)) return bad(21626, `Invalid 'StatusCallbackEvent': ${event}`);
    events.add(event);
  }
  // Twilio: "If no event is specified, we send the completed status."
  if (events.size === 0) events.add("completed");
  const timeoutText = one("Timeout");
  let timeout = 60;
  if (timeoutText !== undefined) {
    if (!/^\d+$/.test(timeoutText) || Number(timeoutText) < 1) return bad(21208, "Invalid Timeout");
    // Twilio documents 600 s as the maximum.
    timeout = Math.min(600, Number(timeoutText));
  }
  const params: Record<string, string> = {};
  for (const name of new Set(form.keys())) {
    // A repeated param (StatusCallbackEvent) reads as its values space-separated, a form
    // Twilio also takes.
    params[name] = name === "SipAuthPassword" ? "***" : form.getAll(name).join(" ");
  }
  return {
    to,
    from,
    twiml,
    url,
    method,
    statusCallback,
    statusCallbackMethod,
    events,
    timeout,
    params,
  };
}

export function isTwilioError(value: CreateCallRequest | TwilioError): value is TwilioError {
  return "code" in value;
}

export interface ResourceFields {
  sid: string;
  accountSid: string;
  to: string;
  from: string;
  status: CallStatus;
  created: Date;
  updated: Date;
  startTime: Date | null;
  endTime: Date | null;
  duration: number | null;
}

/** The Call resource as the API returns it (JSON). */
export function callResource(call: ResourceFields) {
  const base = `/2010-04-01/Accounts/${call.accountSid}/Calls/${call.sid}`;
  return {
    account_sid: call.accountSid,
    annotation: null,
    answered_by: null,
    api_version: "2010-04-01",
    caller_name: null,
    date_created: rfc2822(call.created),
    date_updated: rfc2822(call.updated),
    direction: "outbound-api",
    duration: call.duration === null ? null : String(call.duration),
    end_time: call.endTime ? rfc2822(call.endTime) : null,
    forwarded_from: null,
    from: call.from,
    from_formatted: call.from,
    group_sid: null,
    parent_call_sid: null,
    phone_number_sid: null,
    price: null,
    price_unit: "USD",
    queue_time: "0",
    sid: call.sid,
    start_time: call.startTime ? rfc2822(call.startTime) : null,
    // Twilio's resource has no `initiated`: the call is still `queued` until it rings.
    status: call.status === "initiated" ? "queued" : call.status,
    subresource_uris: {
      events: `${base}/Events.json`,
      notifications: `${base}/Notifications.json`,
      recordings: `${base}/Recordings.json`,
      streams: `${base}/Streams.json`,
    },
    to: call.to,
    to_formatted: call.to,
    trunk_sid: null,
    uri: `${base}.json`,
  };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

function isMethod(value: string): value is "GET" | "POST" {
  return value === "GET" || value === "POST";
}

function isEvent(value: string): value is CallbackEvent {
  return (CALLBACK_EVENTS as readonly string[]).includes(value);
}

/** "Tue, 25 Apr 2023 18:24:42 +0000", Twilio's date format (RFC 2822). */
export function rfc2822(date: Date): string {
  return date.toUTCString().replace("GMT", "+0000");
}

/** A Twilio SID: two letters, then 32 hex digits. */
export function newSid(prefix: "CA" | "MZ"): string {
  return prefix + randomBytes(16).toString("hex");
}
