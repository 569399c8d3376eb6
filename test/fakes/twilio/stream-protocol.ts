/**
 * The Media Streams WebSocket messages, both ways. Twilio sends `connected` (no sequence
 * number), then `start`, `media`, `dtmf`, `mark` and `stop`, each with a `sequenceNumber`
 * string counting from "1"; `media.chunk` counts from "1" too and `media.timestamp` is ms since
 * the stream started. On a bidirectional stream the app may send `media` (base64 μ-law 8 kHz,
 * no header), `mark` and `clear`, each naming the stream's `streamSid`.
 */
import type { RawData } from "ws";
import { z } from "zod";

export interface StreamIds {
  accountSid: string;
  callSid: string;
  streamSid: string;
}

export type TwilioStreamMessage =
  | { event: "connected"; protocol: "Call"; version: "1.0.0" }
  | {
      event: "start";
      sequenceNumber: string;
      start: {
        accountSid: string;
        streamSid: string;
        callSid: string;
        tracks: ["inbound"];
        customParameters: Record<string, string>;
        mediaFormat: { encoding: "audio/x-mulaw"; sampleRate: 8000; channels: 1 };
      };
      streamSid: string;
    }
  | {
      event: "media";
      sequenceNumber: string;
      media: { track: "inbound"; chunk: string; timestamp: string; payload: string };
      streamSid: string;
    }
  | {
      event: "dtmf";
      streamSid: string;
      sequenceNumber: string;
      dtmf: { track: "inbound_track"; digit: string };
    }
  | { event: "mark"; sequenceNumber: string; streamSid: string; mark: { name: string } }
  | {
      event: "stop";
      sequenceNumber: string;
      streamSid: string;
      stop: { accountSid: string; callSid: string };
    };

/** Builds Twilio's messages for one stream, numbering them as they are built. */
export class TwilioMessages {
  readonly #ids: StreamIds;
  #sequence = 0;
  #chunk = 0;

  constructor(ids: StreamIds) {
    this.#ids = ids;
  }

  connected(): TwilioStreamMessage {
    return { event: "connected", protocol: "Call", version: "1.0.0" };
  }

  start(customParameters: Record<string, string>): TwilioStreamMessage {
    const { accountSid, callSid, streamSid } = this.#ids;
    return {
      event: "start",
      sequenceNumber: this.#next(),
      start: {
        accountSid,
        streamSid,
        callSid,
        tracks: ["inbound"],
        customParameters,
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
      },
      streamSid,
    };
  }

  media(mulaw: Uint8Array, timestampMs: number): TwilioStreamMessage {
    return {
      event: "media",
      sequenceNumber: this.#next(),
      media: {
        track: "inbound",
        chunk: String(++this.#chunk),
        timestamp: String(timestampMs),
        payload: Buffer.from(mulaw).toString("base64"),
      },
      streamSid: this.#ids.streamSid,
    };
  }

  dtmf(digit: string): TwilioStreamMessage {
    const { streamSid } = this.#ids;
    return {
      event: "dtmf",
      streamSid,
      sequenceNumber: this.#next(),
      dtmf: { track: "inbound_track", digit },
    };
  }

  mark(name: string): TwilioStreamMessage {
    const { streamSid } = this.#ids;
    return { event: "mark", sequenceNumber: this.#next(), streamSid, mark: { name } };
  }

  stop(): TwilioStreamMessage {
    const { accountSid, callSid, streamSid } = this.#ids;
    return {
      event: "stop",
      sequenceNumber: this.#next(),
      streamSid,
      stop: { accountSid, callSid },
    };
  }

  #next(): string {
    this.#sequence += 1;
    return String(this.#sequence);
  }
}

const AppMessageSchema = z.discriminatedUnion("event", [
  z.object({
    event: z.literal("media"),
    streamSid: z.string(),
    media: z.object({ payload: z.string() }),
  }),
  z.object({
    event: z.literal("mark"),
    streamSid: z.string(),
    mark: z.object({ name: z.string() }),
  }),
  z.object({ event: z.literal("clear"), streamSid: z.string() }),
]);
export type AppMessage = z.infer<typeof AppMessageSchema>;

/** Non-empty, padded base64. */
const BASE64 = /^(?=.)(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * A message from the app, checked as Twilio would (its error 31924 is a message it cannot
 * take); a string says what is wrong with it.
 */
export function readAppMessage(
  data: RawData,
  isBinary: boolean,
  streamSid: string,
): AppMessage | string {
  if (isBinary) return "31924 binary frame from the app; Twilio takes JSON text";
  let json: unknown;
  try {
    json = JSON.parse(data.toString());
  } catch {
    return "31924 message from the app is not JSON";
  }
  const parsed = AppMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `31924 invalid message: ${issue?.path.join(".")}: ${issue?.message}`;
  }
  const message = parsed.data;
  if (message.streamSid !== streamSid) {
    return `${message.event} for streamSid ${message.streamSid}, not ${streamSid}`;
  }
  if (message.event === "media" && !BASE64.test(message.media.payload)) {
    return "media payload is not base64";
  }
  return message;
}
