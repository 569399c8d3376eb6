/**
 * Twilio Media Streams over WebSocket (bidirectional, `<Connect><Stream>`): the messages Twilio
 * sends, validated on arrival, and the ones we send back. Audio is base64 μ-law 8 kHz mono.
 */
import { z } from "zod";

const Sequence = z.string().max(20).optional();
const StreamSid = z.string().regex(/^MZ[0-9a-f]{32}$/, "Malformed streamSid.");

const Connected = z.object({ event: z.literal("connected") });
const Start = z.object({
  event: z.literal("start"),
  sequenceNumber: Sequence,
  streamSid: StreamSid,
  start: z.object({
    streamSid: StreamSid,
    callSid: z.string().regex(/^CA[0-9a-f]{32}$/, "Malformed callSid."),
    customParameters: z.record(z.string(), z.string()).optional(),
    mediaFormat: z
      .object({
        encoding: z.string(),
        sampleRate: z.number(),
        channels: z.number(),
      })
      .optional(),
  }),
});
/** 20 ms of 8 kHz μ-law is 160 bytes (216 base64 characters); a little slack, no more. */
const MAX_MEDIA_BASE64 = 4_096;
const Media = z.object({
  event: z.literal("media"),
  sequenceNumber: Sequence,
  streamSid: StreamSid,
  media: z.object({
    track: z.string().optional(),
    payload: z.string().max(MAX_MEDIA_BASE64),
  }),
});
const Mark = z.object({
  event: z.literal("mark"),
  streamSid: StreamSid,
  mark: z.object({ name: z.string().max(100) }),
});
const Dtmf = z.object({
  event: z.literal("dtmf"),
  streamSid: StreamSid,
  dtmf: z.object({ digit: z.string().max(1) }),
});
const Stop = z.object({ event: z.literal("stop"), streamSid: StreamSid });

const TwilioMediaMessage = z.discriminatedUnion("event", [
  Connected,
  Start,
  Media,
  Mark,
  Dtmf,
  Stop,
]);
export type TwilioMediaMessage = z.infer<typeof TwilioMediaMessage>;

/** Largest text frame accepted on the media socket. */
const MAX_FRAME_CHARS = 8_192;

export function parseMediaMessage(
  raw: string,
): { ok: true; message: TwilioMediaMessage } | { ok: false; error: string } {
  if (raw.length > MAX_FRAME_CHARS) return { ok: false, error: "frame too large" };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, error: "not JSON" };
  }
  // `media` is 50 messages a second per call: checked by hand, the rest through the schema.
  const media = fastMedia(json);
  if (media) return { ok: true, message: media };
  const parsed = TwilioMediaMessage.safeParse(json);
  if (!parsed.success) return { ok: false, error: parsed.error.issues[0]?.message ?? "bad shape" };
  return { ok: true, message: parsed.data };
}

type MediaEvent = Extract<TwilioMediaMessage, { event: "media" }>;

/** The same checks as the schema's for a well-formed `media` message; undefined otherwise. */
function fastMedia(json: unknown): MediaEvent | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const { event, streamSid, media } = json as Record<string, unknown>;
  if (event !== "media" || typeof streamSid !== "string" || typeof media !== "object") {
    return undefined;
  }
  const { payload, track } = (media ?? {}) as Record<string, unknown>;
  if (typeof payload !== "string" || payload.length > MAX_MEDIA_BASE64) return undefined;
  if (streamSid.length !== 34 || !streamSid.startsWith("MZ")) return undefined;
  return {
    event,
    streamSid,
    media: { payload, ...(typeof track === "string" ? { track } : {}) },
  };
}

/** Base64 of raw bytes, without spreading them into an argument list. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i] ?? 0);
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array | undefined {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function mediaMessage(streamSid: string, payload: Uint8Array): string {
  return JSON.stringify({ event: "media", streamSid, media: { payload: toBase64(payload) } });
}

export function markMessage(streamSid: string, name: string): string {
  return JSON.stringify({ event: "mark", streamSid, mark: { name } });
}

export function clearMessage(streamSid: string): string {
  return JSON.stringify({ event: "clear", streamSid });
}
