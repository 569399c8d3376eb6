/**
 * Stamped caller audio: silent 20 ms frames of 16 kHz PCM16 whose first samples say where the
 * frame sits in the caller's stream. The fake Deepgram reads the stamp, so it knows which words a
 * socket heard even when the same audio is sent to it again after a reconnect — and a word heard
 * twice, or not at all, shows in what it reports. No node:* imports (used inside workerd).
 */
const MAGIC = 0x7e57;
const CHECK = 0x5a5a;
export const FRAME_MS = 20;
export const FRAME_BYTES = 640;

/** The silent frame at `index` (its audio starts at index × 20 ms). */
export function stampedFrame(index: number): Uint8Array {
  const frame = new Uint8Array(FRAME_BYTES);
  const view = new DataView(frame.buffer);
  view.setUint16(0, MAGIC, true);
  view.setUint16(2, index & 0xffff, true);
  view.setUint16(4, index >>> 16, true);
  view.setUint16(6, (index & 0xffff) ^ CHECK, true);
  return frame;
}

/** Where `frame` starts in the caller's stream (ms), if it carries a stamp. */
export function stampOf(frame: Uint8Array): number | undefined {
  if (frame.byteLength < 8) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint16(0, true) !== MAGIC) return undefined;
  const low = view.getUint16(2, true);
  if (view.getUint16(6, true) !== (low ^ CHECK)) return undefined;
  return (low + view.getUint16(4, true) * 0x10000) * FRAME_MS;
}
