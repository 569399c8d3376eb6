/** Scripting the fake Deepgram from a test, in Node or inside workerd (plain fetch). */
import type { DeepgramLog, SttScriptInput, TtsSettingsInput } from "./script.ts";

export { FRAME_MS, stampedFrame } from "./stamp.ts";
export type { DeepgramLog };

type Utterance = SttScriptInput["utterances"][number];
type SttFaults = Omit<SttScriptInput, "name" | "utterances">;

export async function scriptDeepgram(
  baseUrl: string,
  name: string,
  utterances: Utterance[],
  options: SttFaults = {},
): Promise<void> {
  const res = await fetch(`${baseUrl}/_fake/stt-scripts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, utterances, ...options }),
  });
  if (!res.ok) throw new Error(`scripting the fake Deepgram failed: ${res.status}`);
}

/**
 * More utterances for the session scripted as `name` (its sockets already open hear them too):
 * e.g. a caller's next turn, placed once the last reply was heard. Words whose audio the socket
 * already had are not heard: place them after the audio sent so far.
 */
export async function appendDeepgramUtterances(
  baseUrl: string,
  name: string,
  utterances: Utterance[],
): Promise<void> {
  const res = await fetch(`${baseUrl}/_fake/stt-scripts/append`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, utterances }),
  });
  if (!res.ok) throw new Error(`appending to the fake Deepgram's script failed: ${res.status}`);
}

export async function deepgramLog(baseUrl: string, script: string): Promise<DeepgramLog> {
  const res = await fetch(`${baseUrl}/_fake/log?script=${encodeURIComponent(script)}`);
  return (await res.json()) as DeepgramLog;
}

/**
 * Scripts the fake's speech for texts containing `match` and/or for one session's requests and
 * sockets (`session`): its pace (e.g. slow, to speak over it) or its faults.
 */
export async function paceDeepgramTts(baseUrl: string, settings: TtsSettingsInput): Promise<void> {
  const res = await fetch(`${baseUrl}/_fake/tts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(settings),
  });
  if (!res.ok) throw new Error(`pacing the fake Deepgram failed: ${res.status}`);
}
