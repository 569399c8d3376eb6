/**
 * Deepgram Aura text-to-speech over streaming HTTP: one request per sentence, audio arriving
 * in chunks as it is synthesised, so the first sound leaves before the whole answer exists.
 */
import { VoiceProviderError } from "../errors.ts";

/** The most text Aura takes in one request or `Speak` (longer text is refused or dropped). */
export const AURA_MAX_CHARS = 2_000;

export interface AuraOptions {
  apiKey: string;
  baseUrl: string;
  /** @default "aura-2-thalia-en" */
  model?: string;
  /** @default 16000 */
  sampleRate?: number;
  /** Deepgram's usage tag (`tag=`): the session, as the transcription's `extra` names it. */
  tag?: string;
  /** WebSocket only: longest the socket may take to open. @default 5000 */
  connectTimeoutMs?: number;
}

/** Aura's URL for our audio format: 16 kHz linear PCM, as the page plays it. */
export function auraUrl(options: AuraOptions): URL {
  const url = new URL("/v1/speak", options.baseUrl);
  url.searchParams.set("model", options.model ?? "aura-2-thalia-en");
  url.searchParams.set("encoding", "linear16");
  url.searchParams.set("sample_rate", String(options.sampleRate ?? 16_000));
  if (options.tag) url.searchParams.set("tag", options.tag);
  return url;
}

/** Raw PCM16LE mono chunks for `text`, to `onAudio` as they come; stops at once when `signal` aborts. */
export async function synthesize(
  text: string,
  options: AuraOptions,
  signal: AbortSignal,
  onAudio: (chunk: Uint8Array) => void,
): Promise<void> {
  const url = auraUrl(options);
  url.searchParams.set("container", "none");
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { Authorization: `Token ${options.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ text }),
      signal,
    });
  } catch (error) {
    if (signal.aborted) return;
    throw new VoiceProviderError("Could not reach Deepgram TTS.", {
      retryable: true,
      cause: error,
    });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new VoiceProviderError(`Deepgram TTS answered HTTP ${response.status}.`, {
      retryable: response.status === 429 || response.status >= 500,
      status: response.status,
    });
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value.byteLength) onAudio(value);
    }
  } catch (error) {
    if (signal.aborted) return;
    throw new VoiceProviderError("Deepgram TTS broke off mid-sentence.", {
      retryable: true,
      cause: error,
    });
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
