/**
 * Deepgram live transcription (`/v1/listen`) from inside workerd. The socket is opened with a
 * fetch Upgrade so the `Authorization: Token` header is really sent: the SDK's WebSocket path
 * sends no credentials from workerd (platform-facts.md), so this ~adapter is written by hand.
 */
import { z } from "zod";

const Word = z.object({
  word: z.string(),
  start: z.number(),
  end: z.number(),
  punctuated_word: z.string().optional(),
});
const Results = z.object({
  type: z.literal("Results"),
  start: z.number(),
  duration: z.number(),
  is_final: z.boolean().optional(),
  speech_final: z.boolean().optional(),
  from_finalize: z.boolean().optional(),
  channel: z.object({
    alternatives: z.array(z.object({ transcript: z.string(), words: z.array(Word).optional() })),
  }),
});
const UtteranceEnd = z.object({ type: z.literal("UtteranceEnd"), last_word_end: z.number() });
const SpeechStarted = z.object({ type: z.literal("SpeechStarted"), timestamp: z.number() });
const Metadata = z.object({ type: z.literal("Metadata"), request_id: z.string().optional() });
const DeepgramMessage = z.discriminatedUnion("type", [
  Results,
  UtteranceEnd,
  SpeechStarted,
  Metadata,
]);

export type SttEvent =
  | { type: "interim"; text: string }
  /** A stretch of speech Deepgram will not revise; `endOfTurn` when it also ended the utterance. */
  | { type: "final"; text: string; endOfTurn: boolean }
  | { type: "utterance_end" }
  | { type: "speech_started" }
  | { type: "closed"; code: number; reason: string };

export interface LiveSttOptions {
  apiKey: string;
  /** `https://api.deepgram.com` in production; a local fake in tests. */
  baseUrl: string;
  /** @default "nova-3" */
  model?: string;
  /** @default 16000 */
  sampleRate?: number;
  /** Silence (ms) that ends an utterance. @default 300 */
  endpointingMs?: number;
  /** Extra key:value tags Deepgram echoes back; the tests' fake uses them to pick a script. */
  extra?: Record<string, string>;
}

export interface LiveStt {
  sendAudio(pcm: ArrayBuffer | Uint8Array): void;
  keepAlive(): void;
  finalize(): void;
  close(): void;
}

export async function connectLiveStt(
  options: LiveSttOptions,
  onEvent: (event: SttEvent) => void,
): Promise<LiveStt> {
  const url = new URL("/v1/listen", options.baseUrl);
  const params: Record<string, string> = {
    model: options.model ?? "nova-3",
    encoding: "linear16",
    sample_rate: String(options.sampleRate ?? 16_000),
    channels: "1",
    interim_results: "true",
    endpointing: String(options.endpointingMs ?? 300),
    utterance_end_ms: "1000",
    vad_events: "true",
    smart_format: "true",
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  for (const [k, v] of Object.entries(options.extra ?? {}))
    url.searchParams.append("extra", `${k}:${v}`);
  const response = await fetch(url, {
    headers: { Upgrade: "websocket", Authorization: `Token ${options.apiKey}` },
  });
  const ws = response.webSocket;
  if (!ws) throw new Error(`Deepgram refused the connection (HTTP ${response.status}).`);
  ws.accept();
  ws.addEventListener("message", (event) => {
    if (typeof event.data !== "string") return;
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch {
      return;
    }
    const parsed = DeepgramMessage.safeParse(json);
    if (!parsed.success) return;
    const message = parsed.data;
    switch (message.type) {
      case "Results": {
        const text = message.channel.alternatives[0]?.transcript ?? "";
        if (!text) return;
        onEvent(
          message.is_final
            ? { type: "final", text, endOfTurn: message.speech_final === true }
            : { type: "interim", text },
        );
        return;
      }
      case "UtteranceEnd":
        return onEvent({ type: "utterance_end" });
      case "SpeechStarted":
        return onEvent({ type: "speech_started" });
      case "Metadata":
        return;
    }
  });
  ws.addEventListener("close", (event) =>
    onEvent({ type: "closed", code: event.code, reason: event.reason }),
  );
  const sendJson = (message: object) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };
  return {
    sendAudio: (pcm) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(pcm);
    },
    keepAlive: () => sendJson({ type: "KeepAlive" }),
    finalize: () => sendJson({ type: "Finalize" }),
    close: () => {
      sendJson({ type: "CloseStream" });
      ws.close(1000, "done");
    },
  };
}
