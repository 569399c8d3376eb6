/**
 * The audio of a bridged call, converted at the edge where it leaves: the caller's 16 kHz PCM
 * becomes Twilio `media` messages of 20 ms μ-law at 8 kHz (low-pass filtered, then decimated),
 * and Twilio's μ-law comes back as 16 kHz PCM through an interpolation filter. One bridge per
 * call: the filters keep their state from frame to frame.
 */
import { CallerToTelephony, TelephonyToCaller } from "../voice/audio/telephony-codec.ts";
import { fromBase64, mediaMessage } from "./media-stream.ts";

/** 20 ms of 8 kHz μ-law. */
const TWILIO_FRAME_BYTES = 160;

export class TelephonyBridge {
  readonly #up = new CallerToTelephony();
  readonly #down = new TelephonyToCaller();
  /** `relay`: frames pass untouched (the bridge benchmark's baseline; Twilio can't play it). */
  readonly #relay: boolean;
  /** μ-law not yet sent: Twilio gets whole 20 ms frames even if the page batches its audio. */
  #pending = new Uint8Array(0);

  constructor(mode: "transcode" | "relay" = "transcode") {
    this.#relay = mode === "relay";
  }

  /** The caller's PCM16LE at 16 kHz → `media` messages for Twilio. */
  toTwilio(streamSid: string, pcm: Uint8Array): string[] {
    if (this.#relay) return [mediaMessage(streamSid, pcm)];
    const mulaw = this.#up.encode(pcm);
    const bytes = this.#pending.length ? concat(this.#pending, mulaw) : mulaw;
    const messages: string[] = [];
    let at = 0;
    for (; at + TWILIO_FRAME_BYTES <= bytes.length; at += TWILIO_FRAME_BYTES) {
      messages.push(mediaMessage(streamSid, bytes.subarray(at, at + TWILIO_FRAME_BYTES)));
    }
    this.#pending = bytes.slice(at);
    return messages;
  }

  /** A Twilio `media` payload (base64 μ-law, 8 kHz) → PCM16LE at 16 kHz for the page. */
  fromTwilio(payload: string): Uint8Array | undefined {
    const mulaw = fromBase64(payload);
    if (!mulaw || this.#relay) return mulaw;
    return this.#down.decode(mulaw);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
