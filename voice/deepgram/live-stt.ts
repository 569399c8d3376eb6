/**
 * Deepgram live transcription from inside workerd: Nova (`/v1/listen`, results + endpointing)
 * or Flux (`/v2/listen`, turn events with an eager end of turn), chosen by the model name. The
 * socket is opened with a fetch Upgrade so the `Authorization: Token` header is really sent: the
 * SDK's WebSocket path sends no credentials from workerd (platform-facts.md), so this adapter is
 * written by hand.
 */
import { VoiceProviderError } from "../errors.ts";
import { readFluxMessage, readNovaMessage } from "./messages.ts";

export const isFluxModel = (model: string | undefined) => Boolean(model?.startsWith("flux"));

export type SttEvent =
  | { type: "interim"; text: string }
  /**
   * A stretch of speech Deepgram will not revise; `endOfTurn` when it also ended the turn, and
   * `wholeTurn` when `text` is the turn's whole transcript (Flux), not one more piece of it.
   * `audioEndSec`: where the last word ends in the connection's audio stream.
   */
  | { type: "final"; text: string; endOfTurn: boolean; wholeTurn?: boolean; audioEndSec?: number }
  /** Flux thinks the turn is probably over: start answering, but be ready to take it back. */
  | { type: "eager_end_of_turn"; text: string; audioEndSec: number }
  /** Flux: the caller went on speaking after an eager end of turn. */
  | { type: "turn_resumed" }
  | { type: "utterance_end"; audioEndSec: number }
  | { type: "speech_started" }
  /**
   * Deepgram will not revise the audio before `throughSec` (every `is_final` result, words or
   * not, and Flux's EndOfTurn): it need not be sent again on a new socket.
   */
  | { type: "finalized"; throughSec: number }
  /** Deepgram said something, whatever it was: the socket is alive. */
  | { type: "alive" }
  | { type: "closed"; code: number; reason: string };

/** What the transcription tells the session (the rest is the connection's own business). */
export type TranscriptEvent = Exclude<SttEvent, { type: "finalized" | "alive" | "closed" }>;

export interface LiveSttOptions {
  apiKey: string;
  /** `https://api.deepgram.com` in production; a local fake in tests. */
  baseUrl: string;
  /** @default "nova-3"; a `flux-…` model speaks Flux (`/v2/listen`). */
  model?: string;
  /** Flux: confidence at which an EagerEndOfTurn is sent. @default 0.5 */
  eagerEotThreshold?: number;
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

/** The listen URL with our parameters: Nova's endpointing and interim results, or Flux's turns. */
export function liveSttUrl(options: LiveSttOptions): URL {
  const model = options.model ?? "nova-3";
  const flux = isFluxModel(model);
  const url = new URL(flux ? "/v2/listen" : "/v1/listen", options.baseUrl);
  const common = {
    model,
    encoding: "linear16",
    sample_rate: String(options.sampleRate ?? 16_000),
  };
  const params: Record<string, string> = flux
    ? {
        ...common,
        eager_eot_threshold: String(options.eagerEotThreshold ?? 0.5),
        eot_threshold: "0.7",
      }
    : {
        ...common,
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
  return url;
}

/**
 * Opens a live transcription socket. Fails with a `VoiceProviderError` saying whether another try
 * can help (a refused key cannot); `signal` abandons the attempt.
 */
export async function connectLiveStt(
  options: LiveSttOptions,
  onEvent: (event: SttEvent) => void,
  signal?: AbortSignal,
): Promise<LiveStt> {
  const flux = isFluxModel(options.model);
  const url = liveSttUrl(options);
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { Upgrade: "websocket", Authorization: `Token ${options.apiKey}` },
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw new VoiceProviderError("Could not reach Deepgram.", { retryable: true, cause: error });
  }
  const ws = response.webSocket;
  if (!ws) {
    await response.body?.cancel();
    throw VoiceProviderError.refused("Deepgram", response.status);
  }
  ws.accept();
  const handle = flux ? fluxHandler(onEvent) : novaHandler(onEvent);
  ws.addEventListener("message", (event) => {
    onEvent({ type: "alive" });
    if (typeof event.data !== "string") return;
    try {
      handle(JSON.parse(event.data));
    } catch {
      // Not JSON: nothing Deepgram documents; ignored.
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
    // Flux has no KeepAlive message: it is kept open by audio alone (silence is audio).
    keepAlive: () => (flux ? undefined : sendJson({ type: "KeepAlive" })),
    finalize: () => (flux ? undefined : sendJson({ type: "Finalize" })),
    close: () => {
      sendJson({ type: "CloseStream" });
      ws.close(1000, "done");
    },
  };
}

function novaHandler(onEvent: (event: SttEvent) => void) {
  return (json: unknown) => {
    const message = readNovaMessage(json);
    if (!message) return;
    switch (message.type) {
      case "Results": {
        if (message.isFinal)
          onEvent({ type: "finalized", throughSec: message.start + message.duration });
        const text = message.transcript;
        if (!text) return;
        onEvent(
          message.isFinal
            ? {
                type: "final",
                text,
                endOfTurn: message.speechFinal,
                audioEndSec: message.lastWordEnd ?? message.start + message.duration,
              }
            : { type: "interim", text },
        );
        return;
      }
      case "UtteranceEnd":
        return onEvent({ type: "utterance_end", audioEndSec: message.lastWordEnd });
      case "SpeechStarted":
        return onEvent({ type: "speech_started" });
      case "Metadata":
        return;
    }
  };
}

function fluxHandler(onEvent: (event: SttEvent) => void) {
  return (json: unknown) => {
    const info = readFluxMessage(json);
    if (info?.type !== "TurnInfo") return;
    const text = info.transcript.trim();
    const audioEndSec = info.lastWordEnd ?? info.audioWindowEnd;
    switch (info.event) {
      case "StartOfTurn":
        onEvent({ type: "speech_started" });
        if (text) onEvent({ type: "interim", text });
        return;
      case "Update":
        if (text) onEvent({ type: "interim", text });
        return;
      case "EagerEndOfTurn":
        return onEvent({ type: "eager_end_of_turn", text, audioEndSec });
      case "TurnResumed":
        return onEvent({ type: "turn_resumed" });
      case "EndOfTurn":
        onEvent({ type: "finalized", throughSec: info.audioWindowEnd });
        return onEvent({ type: "final", text, endOfTurn: true, wholeTurn: true, audioEndSec });
    }
  };
}
