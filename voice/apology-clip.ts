/**
 * The short apology the caller hears when the assistant's voice fails mid-turn ("Sorry, my voice
 * cut out…"). It cannot be synthesised at that moment — the synthesiser is what failed — so it is
 * synthesised ahead of time, once per isolate and voice, and kept in memory (~20 KB of PCM),
 * shared by every session the isolate runs. Synthesised rather than shipped as a recording so it
 * is in the assistant's own voice, whichever Aura voice is configured, and costs the bundle
 * nothing. If Aura is down before the first clip was made, there is none: the page shows the
 * apology instead, and the clip is tried again a little later.
 */
import { withIdleDeadline } from "./deadline.ts";
import type { Synthesize } from "./speech-output.ts";

export const APOLOGY_TEXT = "Sorry, my voice cut out. My answer is on your screen.";

/** After a failed attempt, the next one waits this long (a session starting meanwhile is not a reason). */
const RETRY_AFTER_MS = 30_000;

const clips = new Map<string, Uint8Array>();
const pending = new Set<string>();
const failedAt = new Map<string, number>();

/**
 * Makes the clip for `voice` unless it exists or is being made (or failed a moment ago): the
 * work to run in the background, or nothing to do. `timeoutMs` bounds each wait for audio.
 */
export async function prepareApologyClip(
  voice: string,
  /** The same synthesiser the replies use. */
  synthesize: Synthesize,
  timeoutMs: number,
): Promise<void> {
  if (clips.has(voice) || pending.has(voice)) return;
  if (Date.now() - (failedAt.get(voice) ?? Number.NEGATIVE_INFINITY) < RETRY_AFTER_MS) return;
  pending.add(voice);
  try {
    clips.set(voice, await collect(synthesize, timeoutMs));
    failedAt.delete(voice);
  } catch (error) {
    failedAt.set(voice, Date.now());
    throw error;
  } finally {
    pending.delete(voice);
  }
}

/** The clip for `voice`, if it has been made. */
export function apologyClip(voice: string): Uint8Array | undefined {
  return clips.get(voice);
}

async function collect(synthesize: Synthesize, timeoutMs: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const signal = new AbortController().signal;
  await withIdleDeadline(
    (s, onAudio) => synthesize(APOLOGY_TEXT, s, onAudio),
    (chunk: Uint8Array) => chunks.push(chunk),
    timeoutMs,
    signal,
    "Aura",
  );
  const size = chunks.reduce((n, c) => n + c.byteLength, 0);
  if (size < 2) throw new Error("Aura returned no audio for the apology clip.");
  const pcm = new Uint8Array(size & ~1);
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, Math.min(chunk.byteLength, pcm.byteLength - at));
    pcm.set(part, at);
    at += part.byteLength;
  }
  return pcm;
}
