/** Scripting the fake Deepgram from a test, in Node or inside workerd (plain fetch). */
export async function scriptDeepgram(
  baseUrl: string,
  name: string,
  utterances: { text: string; afterAudioMs: number; eager?: boolean; resumed?: boolean }[],
  options: { dropAfterAudioMs?: number; endOfTurnDelayMs?: number; eagerDelayMs?: number } = {},
): Promise<void> {
  const res = await fetch(`${baseUrl}/_fake/stt-scripts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, utterances, ...options }),
  });
  if (!res.ok) throw new Error(`scripting the fake Deepgram failed: ${res.status}`);
}

export interface DeepgramLog {
  connections: {
    script: string;
    audioMs: number;
    keepAlives: number;
    finalizes: number;
    closedByClient: boolean;
    flux: boolean;
  }[];
  spoken: string[];
}

export async function deepgramLog(baseUrl: string, script: string): Promise<DeepgramLog> {
  const res = await fetch(`${baseUrl}/_fake/log?script=${encodeURIComponent(script)}`);
  return (await res.json()) as DeepgramLog;
}

/** Paces the fake's speech for texts containing `match` (e.g. slow, to speak over it). */
export async function paceDeepgramTts(
  baseUrl: string,
  settings: { match: string; firstByteMs?: number; chunkMs?: number; msPerChar?: number },
): Promise<void> {
  const res = await fetch(`${baseUrl}/_fake/tts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(settings),
  });
  if (!res.ok) throw new Error(`pacing the fake Deepgram failed: ${res.status}`);
}
