/**
 * What Twilio sends us and what we tell it to do: the signature check of its webhooks (on the
 * public URL it called) and the TwiML that connects the answered call to this session's media
 * stream. Both through the `twilio` package's deep imports, which bundle small (~31 KB gzip)
 * and run in workerd, unlike its REST client.
 */
import VoiceResponse from "twilio/lib/twiml/VoiceResponse";
import { validateRequest } from "twilio/lib/webhooks/webhooks";
import type { TransferConfig } from "../worker/config.ts";

/** Paths on this Worker that Twilio calls, per session. */
export const TWILIO_PATHS = {
  status: (sessionId: string) => `/twilio/status/${sessionId}`,
  media: (sessionId: string) => `/twilio/media/${sessionId}`,
} as const;

/** The public URL Twilio called for `path` (path and query of the request as it arrived). */
export function publicUrlOf(config: TransferConfig, pathAndQuery: string): string {
  return `${config.publicUrl}${pathAndQuery}`;
}

/** True when `signature` is Twilio's for this URL and these form parameters. */
export function isSignedByTwilio(
  config: TransferConfig,
  signature: string | undefined,
  url: string,
  params: Record<string, string>,
): boolean {
  if (!signature) return false;
  try {
    return validateRequest(config.authToken, signature, url, params);
  } catch {
    return false;
  }
}

/**
 * TwiML run when the human answers: a bidirectional media stream back to this session, with
 * the single-use token as a stream parameter (it comes back in the stream's `start` message).
 */
export function bridgeTwiml(config: TransferConfig, sessionId: string, token: string): string {
  const response = new VoiceResponse();
  const stream = response.connect().stream({ url: mediaStreamUrl(config, sessionId) });
  stream.parameter({ name: "token", value: token });
  return response.toString();
}

export function mediaStreamUrl(config: TransferConfig, sessionId: string): string {
  return publicUrlOf(config, TWILIO_PATHS.media(sessionId)).replace(/^http/, "ws");
}

export function statusCallbackUrl(config: TransferConfig, sessionId: string): string {
  return publicUrlOf(config, TWILIO_PATHS.status(sessionId));
}

/**
 * `sip:EXT@DOMAIN` with SIP headers as URI parameters: the dashboard finds the session (and so
 * the caller's context) from `X-Session`. Values are URI-encoded; names are fixed.
 */
export function sipUri(
  config: TransferConfig,
  extension: string,
  headers: Record<string, string>,
): string {
  const query = Object.entries(headers)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join("&");
  return `sip:${extension}@${config.sipDomain}${query ? `?${query}` : ""}`;
}
