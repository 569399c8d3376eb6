/**
 * Scripting the fake Twilio from a test, in Node or inside workerd (plain fetch, no node:*
 * imports).
 */
import type { Tone } from "./mulaw.ts";
import type { CallbackRecord, CallRecord, Step, StreamRecord, UpdateRecord } from "./scenario.ts";

export type { CallbackRecord, CallRecord, Step, StreamRecord, Tone, UpdateRecord };

/** How the next call whose `To` contains `match` goes; scenarios are used once, oldest first. */
export async function scriptTwilio(baseUrl: string, match: string, steps: Step[]): Promise<void> {
  const res = await fetch(`${baseUrl}/_fake/scenarios`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ match, steps }),
  });
  if (!res.ok)
    throw new Error(`scripting the fake Twilio failed: ${res.status} ${await res.text()}`);
}

/** The calls whose `To` contains `match`, oldest first, with all they did. */
export async function twilioCalls(baseUrl: string, match: string): Promise<CallRecord[]> {
  const res = await fetch(`${baseUrl}/_fake/calls?match=${encodeURIComponent(match)}`);
  if (!res.ok) throw new Error(`reading the fake Twilio's calls failed: ${res.status}`);
  return (await res.json()) as CallRecord[];
}

/**
 * The human picks up now (for calls scripted to ring and wait): the answered callback, then the
 * call's TwiML (its Media Stream, unless `openStream` is false). Throws if the call is past that.
 */
export function humanAnswer(
  baseUrl: string,
  sid: string,
  options: { openStream?: boolean } = {},
): Promise<void> {
  return control(baseUrl, sid, "answer", options);
}

/** The human speaks on the call's Media Stream; returns at once (the tone takes `tone.ms`). */
export function humanTone(baseUrl: string, sid: string, tone: Tone): Promise<void> {
  return control(baseUrl, sid, "tone", tone);
}

/** The human presses keys: one `dtmf` message per key. */
export function humanDtmf(baseUrl: string, sid: string, digits: string): Promise<void> {
  return control(baseUrl, sid, "dtmf", { digits });
}

/** The human hangs up: `stop` and close on the stream, then the completed callback. */
export function humanHangUp(baseUrl: string, sid: string): Promise<void> {
  return control(baseUrl, sid, "hangup", {});
}

/** The stream's connection is lost (no `stop`, no close); the call stays up until it is ended. */
export function dropStream(baseUrl: string, sid: string): Promise<void> {
  return control(baseUrl, sid, "drop", {});
}

/**
 * Polls until the first call matching `match` satisfies `predicate` (e.g. it has answered,
 * its stream was accepted, a callback was answered); throws with what it saw on timeout.
 */
export async function waitForCall(
  baseUrl: string,
  match: string,
  predicate: (call: CallRecord) => boolean = () => true,
  timeoutMs = 5000,
): Promise<CallRecord> {
  const deadline = Date.now() + timeoutMs;
  let seen: CallRecord[] = [];
  for (;;) {
    seen = await twilioCalls(baseUrl, match);
    const found = seen.find(predicate);
    if (found) return found;
    if (Date.now() >= deadline) {
      const summary = JSON.stringify(
        seen.map(({ sid, status, statuses, callbacks, stream, errors }) => ({
          sid,
          status,
          statuses,
          callbacks: callbacks.map((c) => `${c.CallStatus}#${c.SequenceNumber}→${c.httpStatus}`),
          stream: stream && { ...stream, received: `${stream.received.length} base64 chars` },
          errors,
        })),
      );
      throw new Error(`no call to "${match}" got there within ${timeoutMs} ms; saw ${summary}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function control(baseUrl: string, sid: string, action: string, body: object): Promise<void> {
  const res = await fetch(`${baseUrl}/_fake/calls/${encodeURIComponent(sid)}/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`fake Twilio ${action} failed: ${res.status} ${await res.text()}`);
  await res.body?.cancel();
}
