/**
 * Deepgram Aura text-to-speech over streaming HTTP: one request per sentence, audio arriving
 * in chunks as it is synthesised, so the first sound leaves before the whole answer exists.
 */
export interface AuraOptions {
  apiKey: string;
  baseUrl: string;
  /** @default "aura-2-thalia-en" */
  model?: string;
  /** @default 16000 */
  sampleRate?: number;
}

/** Raw PCM16LE mono chunks for `text`; stops at once when `signal` aborts. */
export async function* synthesize(
  text: string,
  options: AuraOptions,
  signal: AbortSignal,
): AsyncIterable<Uint8Array> {
  const url = new URL("/v1/speak", options.baseUrl);
  url.searchParams.set("model", options.model ?? "aura-2-thalia-en");
  url.searchParams.set("encoding", "linear16");
  url.searchParams.set("sample_rate", String(options.sampleRate ?? 16_000));
  url.searchParams.set("container", "none");
  const response = await fetch(url, {
    method: "POST",
    headers: { Authorization: `Token ${options.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ text }),
    signal,
  });
  if (!response.ok || !response.body) {
    throw new Error(`Deepgram TTS answered HTTP ${response.status}.`);
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value.byteLength) yield value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
