/**
 * What a test scripts the fake Deepgram to do. No node:* imports: the client imports from here,
 * and it also runs inside workerd.
 */
import { z } from "zod";

export const SttScriptSchema = z.object({
  name: z.string().min(1),
  /** The first connection is dropped (1011) once it has heard this much audio. */
  dropAfterAudioMs: z.number().positive().optional(),
  /**
   * An outage: connection attempts are refused (HTTP 503) for this long (wall clock) — from the
   * first connection's drop when `dropAfterAudioMs` is set, else from the script's creation.
   */
  outageMs: z.number().nonnegative().optional(),
  /** The first this-many connections take audio but never answer (a silent Deepgram). */
  silentConnections: z.number().int().nonnegative().default(0),
  /** Wall-clock ms from hearing an utterance's last word to its final / EndOfTurn. */
  endOfTurnDelayMs: z.number().nonnegative().default(0),
  /** Flux: wall-clock ms from the last word to EagerEndOfTurn (for utterances marked eager). */
  eagerDelayMs: z.number().nonnegative().default(0),
  utterances: z.array(
    z.object({
      text: z.string().min(1),
      /**
       * The utterance's last word ends here in the caller's audio; it is reported from then.
       * Positions are read from stamped audio (stamp.ts) when the frames carry a stamp, so a
       * socket that is sent the same audio again hears the same words again; else they count
       * from the start of each connection.
       */
      afterAudioMs: z.number().nonnegative(),
      /** Flux: an EagerEndOfTurn comes first. */
      eager: z.boolean().default(false),
      /** Flux: after the EagerEndOfTurn the caller goes on: no EndOfTurn, and TurnResumed
       * comes with the next utterance's words. */
      resumed: z.boolean().default(false),
    }),
  ),
});
export type SttScript = z.infer<typeof SttScriptSchema>;
export type SttScriptInput = z.input<typeof SttScriptSchema>;

/**
 * More utterances for a session already scripted (`POST /_fake/stt-scripts/append`): sockets
 * open on it hear them too, if the audio where their words end has not yet arrived.
 */
export const SttAppendSchema = z.object({
  name: z.string().min(1),
  utterances: SttScriptSchema.shape.utterances,
});

/**
 * What the fake did, as it did it, for an observer in the same process (a benchmark timing the
 * app from outside): `at` is that process's `performance.now()`, `tag` the session the socket or
 * request is tagged with, `text` the words concerned.
 * - `stt_final`: a Nova final transcript was sent; `stt_eager_end_of_turn` / `stt_end_of_turn`:
 *   Flux's;
 * - `tts_request`: Aura was asked to speak `text` (a `Speak` message, or an HTTP request);
 *   `tts_flush`: a `Flush` (the socket's text is complete: synthesis starts);
 * - `tts_first_audio`: the first audio of a text (per `Flush`, or per HTTP request) was sent;
 * - `tts_socket_open` / `tts_socket_close`: an Aura WebSocket was accepted / closed, `code` as
 *   the fake saw it (1006: the connection ended without a Close frame).
 */
export interface DeepgramEvent {
  kind:
    | "stt_final"
    | "stt_eager_end_of_turn"
    | "stt_end_of_turn"
    | "tts_request"
    | "tts_flush"
    | "tts_first_audio"
    | "tts_socket_open"
    | "tts_socket_close";
  at: number;
  tag?: string | undefined;
  text?: string;
  code?: number;
}
export type DeepgramObserver = (event: DeepgramEvent) => void;

export const TtsSettingsSchema = z.object({
  /** Applies to texts containing this… */
  match: z.string().optional(),
  /** …and/or to the requests and sockets tagged `session:ID` (`tag=`); defaults apply elsewhere. */
  session: z.string().optional(),
  firstByteMs: z.number().nonnegative().default(0),
  chunkMs: z.number().nonnegative().default(0),
  /** Milliseconds of audio produced per character of text. */
  msPerChar: z.number().positive().default(10),
  /** The connection (WebSocket) or request (HTTP) is refused with this status. */
  refuse: z.number().int().min(400).max(599).optional(),
  /** After this much audio of the text the socket is dropped (1011) or the response cut. */
  dropAfterMs: z.number().nonnegative().optional(),
  /** Instead of audio, a `Warning` with this description, then `Flushed` (the text is dropped). */
  warning: z.string().optional(),
  /** Applies to this many texts (or refused connections), then no more. */
  times: z.number().int().positive().optional(),
});
export type TtsSettings = z.infer<typeof TtsSettingsSchema>;
export type TtsSettingsInput = z.input<typeof TtsSettingsSchema>;

/** Aura's limit: a longer text gets a Warning and no audio (the fake's emulation of it). */
export const AURA_TEXT_LIMIT = 2_000;

export interface DeepgramLog {
  /** Accepted STT connections, in order. */
  connections: {
    script: string;
    audioMs: number;
    keepAlives: number;
    finalizes: number;
    closedByClient: boolean;
    flux: boolean;
  }[];
  /** Every STT connection attempt: when, and the HTTP status it got (101 when accepted). */
  attempts: { at: number; status: number }[];
  /** Texts Aura was asked to speak on requests and sockets tagged with this session. */
  spoken: string[];
  /**
   * The session's Aura WebSockets, in order (wall clock, ms): `code` is the close code the fake
   * saw (1006: the connection ended without a Close frame), null while the socket is open.
   */
  auraSockets: { openedAt: number; closedAt: number | null; code: number | null }[];
}
