/** Helpers for spoken turns in workerd tests: caller audio out, server messages in. */
import {
  AudioFrameKind,
  CALLER_FRAME_BYTES,
  encodeAudioFrame,
} from "../../../protocol/audio-frame.ts";
import type { ServerMessage } from "../../../protocol/messages.ts";
import type { SessionSocket } from "./session-socket.ts";

let seq = 0;
/** `ms` of (silent) caller audio in 20 ms frames; the fake Deepgram's script decides the words. */
export function speak(socket: SessionSocket, ms: number) {
  for (let i = 0; i < ms / 20; i++) {
    seq = (seq + 1) & 0xffff;
    socket.ws.send(
      encodeAudioFrame(AudioFrameKind.CallerPcm16k, seq, new Uint8Array(CALLER_FRAME_BYTES)),
    );
  }
}

/** Reads messages until one of `type` arrives; returns everything read on the way. */
export async function until(
  socket: SessionSocket,
  type: ServerMessage["type"],
  timeoutMs = 10_000,
): Promise<ServerMessage[]> {
  const seen: ServerMessage[] = [];
  for (;;) {
    const message = await socket.nextAny(timeoutMs);
    seen.push(message);
    if (message.type === type) return seen;
  }
}

/** Bytes of audio the fake speaks for a text: 10 ms per character at 16 kHz, 16-bit. */
export const ttsBytes = (text: string) => Math.round((text.length * 10 * 16_000) / 1000) * 2;

/** Bytes of assistant audio received so far (frame headers left out). */
export const audioBytes = (socket: SessionSocket) =>
  socket.audio.reduce((n, f) => n + f.byteLength - 4, 0);
