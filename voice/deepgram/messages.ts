/**
 * Deepgram's JSON messages, read and checked field by field: Nova's (`/v1/listen`), Flux's
 * (`/v2/listen`) and Aura's socket (`/v1/speak`). A reader returns the fields we act on, or
 * undefined for a message that is not one of these or has one of them missing or of the wrong
 * type; fields we do not use are not looked at.
 *
 * Written by hand rather than with zod, which the rest of the app validates with: these come
 * many times a second on every call, and zod 4 in workerd always takes its slow path (it compiles
 * its fast one with `new Function`, which the runtime forbids: `allowsEval` is false when the user
 * agent says Cloudflare). In a profile of the Worker before this (docs/benchmarks.md, tenth
 * session), that parse was a third of the time the transcription's events took, about 30 µs a
 * message on average.
 */

/** Nova's messages, as the transcription uses them. */
export type NovaMessage =
  | {
      type: "Results";
      /** Where this result's audio starts and how long it is, in the socket's stream (s). */
      start: number;
      duration: number;
      isFinal: boolean;
      speechFinal: boolean;
      /** The first alternative's transcript ("" when nothing was heard). */
      transcript: string;
      /** Where its last word ends (s), when it has words. */
      lastWordEnd: number | undefined;
    }
  | { type: "UtteranceEnd"; lastWordEnd: number }
  | { type: "SpeechStarted" }
  | { type: "Metadata" };

const FLUX_EVENTS = [
  "StartOfTurn",
  "Update",
  "EagerEndOfTurn",
  "TurnResumed",
  "EndOfTurn",
] as const;
export type FluxEvent = (typeof FLUX_EVENTS)[number];

/** Flux's messages: one type for every turn event. */
export type FluxMessage =
  | {
      type: "TurnInfo";
      event: FluxEvent;
      transcript: string;
      /** The end of the audio this event covers (s). */
      audioWindowEnd: number;
      /** Where the turn's last word ends (s), when it has words. */
      lastWordEnd: number | undefined;
    }
  | { type: "Connected" }
  | { type: "FatalError"; description: string | undefined };

const AURA_MESSAGE_TYPES = ["Metadata", "Flushed", "Cleared", "Warning", "Error"] as const;

/** Aura's socket messages (its audio comes as binary ones). */
export interface AuraMessage {
  type: (typeof AURA_MESSAGE_TYPES)[number];
  /** What a Warning or Error says (`err_msg`, else `description`). */
  detail: string | undefined;
}

type Fields = Record<string, unknown>;

function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A field that may be absent: `undefined` when it is; `invalid` when present of another type. */
const invalid = Symbol("invalid");

function optionalBoolean(value: unknown): boolean | undefined | typeof invalid {
  return value === undefined || typeof value === "boolean" ? value : invalid;
}

function optionalString(value: unknown): string | undefined | typeof invalid {
  return value === undefined || typeof value === "string" ? value : invalid;
}

/**
 * Where the last of `words` ends: undefined for no words (absent or empty) or a last word
 * without its end (Flux may leave it out); `invalid` when the list is not one, or its last word
 * is not an object or has an end that is not a number.
 */
function lastWordEnd(words: unknown): number | undefined | typeof invalid {
  if (words === undefined) return undefined;
  if (!Array.isArray(words)) return invalid;
  if (words.length === 0) return undefined;
  const last: unknown = words[words.length - 1];
  if (!isFields(last)) return invalid;
  return last.end === undefined || typeof last.end === "number" ? last.end : invalid;
}

export function readNovaMessage(json: unknown): NovaMessage | undefined {
  if (!isFields(json)) return undefined;
  switch (json.type) {
    case "Results": {
      const { start, duration, channel } = json;
      const isFinal = optionalBoolean(json.is_final);
      const speechFinal = optionalBoolean(json.speech_final);
      if (typeof start !== "number" || typeof duration !== "number") return undefined;
      if (isFinal === invalid || speechFinal === invalid || !isFields(channel)) return undefined;
      const alternatives = channel.alternatives;
      if (!Array.isArray(alternatives)) return undefined;
      const first: unknown = alternatives[0];
      let transcript = "";
      let end: number | undefined;
      if (first !== undefined) {
        if (!isFields(first) || typeof first.transcript !== "string") return undefined;
        const wordEnd = lastWordEnd(first.words);
        if (wordEnd === invalid) return undefined;
        transcript = first.transcript;
        end = wordEnd;
      }
      return {
        type: "Results",
        start,
        duration,
        isFinal: isFinal === true,
        speechFinal: speechFinal === true,
        transcript,
        lastWordEnd: end,
      };
    }
    case "UtteranceEnd":
      return typeof json.last_word_end === "number"
        ? { type: "UtteranceEnd", lastWordEnd: json.last_word_end }
        : undefined;
    case "SpeechStarted":
      return typeof json.timestamp === "number" ? { type: "SpeechStarted" } : undefined;
    case "Metadata":
      return { type: "Metadata" };
    default:
      return undefined;
  }
}

export function readFluxMessage(json: unknown): FluxMessage | undefined {
  if (!isFields(json)) return undefined;
  switch (json.type) {
    case "TurnInfo": {
      const { event, transcript, audio_window_end: audioWindowEnd } = json;
      if (!FLUX_EVENTS.includes(event as FluxEvent)) return undefined;
      if (typeof transcript !== "string" || typeof audioWindowEnd !== "number") return undefined;
      const wordEnd = lastWordEnd(json.words);
      if (wordEnd === invalid) return undefined;
      return {
        type: "TurnInfo",
        event: event as FluxEvent,
        transcript,
        audioWindowEnd,
        lastWordEnd: wordEnd,
      };
    }
    case "Connected":
      return { type: "Connected" };
    case "FatalError": {
      const description = optionalString(json.description);
      return description === invalid ? undefined : { type: "FatalError", description };
    }
    default:
      return undefined;
  }
}

export function readAuraMessage(json: unknown): AuraMessage | undefined {
  if (!isFields(json)) return undefined;
  const type = json.type as AuraMessage["type"];
  if (!AURA_MESSAGE_TYPES.includes(type)) return undefined;
  const errMsg = optionalString(json.err_msg);
  const description = optionalString(json.description);
  if (errMsg === invalid || description === invalid) return undefined;
  return { type, detail: errMsg ?? description };
}
