/**
 * Twilio's request signature, `X-Twilio-Signature`: base64 of HMAC-SHA1 keyed with the auth
 * token over the full URL (as configured, query string included) followed by each POST
 * parameter, sorted by name, as name + value. A parameter given several times contributes each
 * of its (distinct, sorted) values, as twilio-node's validator expects. Twilio signs the Media
 * Streams WebSocket upgrade the same way: over the stream URL, with no parameters.
 */
import { createHmac } from "node:crypto";

export type SignedParams = Record<string, string | readonly string[]>;

export function twilioSignature(authToken: string, url: string, params: SignedParams = {}): string {
  let data = url;
  for (const name of Object.keys(params).sort()) {
    const value = params[name];
    const values = typeof value === "string" ? [value] : [...new Set(value)].sort();
    for (const one of values) data += name + one;
  }
  return createHmac("sha1", authToken).update(Buffer.from(data, "utf8")).digest("base64");
}
