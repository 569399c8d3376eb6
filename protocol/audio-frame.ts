/**
 * Binary frames on the session WebSocket carry audio. Each frame is a 4-byte header and a
 * payload of 16-bit little-endian mono PCM:
 *
 *   byte 0     kind (AudioFrameKind)
 *   byte 1     flags (AudioFrameFlag bits; 0 for caller audio)
 *   bytes 2–3  sequence number, uint16 LE, wrapping — lets each side spot a dropped frame
 *   bytes 4…   PCM16LE samples
 *
 * A header rather than bare PCM so that assistant audio, caller audio and later kinds
 * (e.g. end-of-utterance marks) share one socket without a JSON envelope per 20 ms frame.
 */

export const AudioFrameKind = {
  /** Caller microphone, 16 kHz mono PCM16LE. */
  CallerPcm16k: 1,
  /** Assistant speech, 16 kHz mono PCM16LE (later: 24 kHz from Aura). */
  AssistantPcm: 2,
  /** The human agent's voice during a transfer, 16 kHz mono PCM16LE, 20 ms per frame. */
  HumanPcm16k: 3,
} as const;
export type AudioFrameKind = (typeof AudioFrameKind)[keyof typeof AudioFrameKind];

export const AudioFrameFlag = {
  /** The first frame of an assistant reply: the page measures from it when the reply was heard. */
  ReplyStart: 1,
} as const;

export const AUDIO_HEADER_BYTES = 4;
export const CALLER_SAMPLE_RATE = 16_000;
/** 20 ms of 16 kHz PCM16 — the frame size the page sends. */
export const CALLER_FRAME_BYTES = (CALLER_SAMPLE_RATE / 50) * 2;
/** Up to 100 ms per frame is accepted, so a client may batch frames under load. */
export const MAX_AUDIO_PAYLOAD_BYTES = CALLER_FRAME_BYTES * 5;

export interface AudioFrame {
  kind: AudioFrameKind;
  seq: number;
  flags: number;
  pcm: Uint8Array;
}

export type AudioFrameParse = { ok: true; frame: AudioFrame } | { ok: false; message: string };

const KINDS = new Set<number>(Object.values(AudioFrameKind));

export function encodeAudioFrame(
  kind: AudioFrameKind,
  seq: number,
  pcm: Uint8Array,
  flags = 0,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(AUDIO_HEADER_BYTES + pcm.byteLength);
  out[0] = kind;
  out[1] = flags & 0xff;
  out[2] = seq & 0xff;
  out[3] = (seq >>> 8) & 0xff;
  out.set(pcm, AUDIO_HEADER_BYTES);
  return out;
}

/** Validates a binary frame without copying its payload. */
export function decodeAudioFrame(data: ArrayBuffer | Uint8Array): AudioFrameParse {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.byteLength < AUDIO_HEADER_BYTES + 2) {
    return { ok: false, message: "Audio frame is shorter than its header and one sample." };
  }
  const kind = bytes[0] ?? 0;
  if (!KINDS.has(kind)) return { ok: false, message: `Unknown audio frame kind ${kind}.` };
  const payloadBytes = bytes.byteLength - AUDIO_HEADER_BYTES;
  if (payloadBytes % 2 !== 0) {
    return { ok: false, message: "Audio payload must be whole 16-bit samples." };
  }
  if (payloadBytes > MAX_AUDIO_PAYLOAD_BYTES) {
    return {
      ok: false,
      message: `Audio frame too large: at most ${MAX_AUDIO_PAYLOAD_BYTES} bytes of PCM per frame.`,
    };
  }
  const seq = (bytes[2] ?? 0) | ((bytes[3] ?? 0) << 8);
  return {
    ok: true,
    frame: {
      kind: kind as AudioFrameKind,
      seq,
      flags: bytes[1] ?? 0,
      pcm: bytes.subarray(AUDIO_HEADER_BYTES),
    },
  };
}
