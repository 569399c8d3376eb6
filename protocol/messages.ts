/**
 * The session protocol spoken over the caller's WebSocket, shared by the Worker, the
 * CallSession Durable Object and the caller page.
 *
 * Text frames carry one JSON message each, a member of one of the two discriminated unions
 * below, validated with zod on arrival in both directions. Binary frames carry audio; see
 * `audio-frame.ts`. The server's first message (`hello`) names the protocol version.
 */
// zod/mini: the same validation, tree-shaken, so the caller page stays small (~10x smaller
// than zod's classic API, which also bundles every locale).
import * as z from "zod/mini";

export const PROTOCOL_VERSION = 1;

/** Largest text frame either side accepts, in UTF-16 code units (a cheap bound before parsing). */
export const MAX_TEXT_FRAME_CHARS = 8_192;
/** Longest typed message a caller can send. */
export const MAX_USER_TEXT_CHARS = 2_000;

export const PinSchema = z.string().check(z.regex(/^\d{4,8}$/, "A PIN is 4 to 8 digits."));

// ---- client → server -------------------------------------------------------------------

const SignIn = z.object({ type: z.literal("sign_in"), pin: PinSchema });
const Resume = z.object({
  type: z.literal("resume"),
  token: z.string().check(z.regex(/^[A-Za-z0-9_-]{20,128}$/, "Malformed resume token.")),
});
const UserText = z.object({
  type: z.literal("user_text"),
  /** Client-chosen id, used as the transcript entry's id so the page can match them up. */
  id: z.string().check(z.minLength(1, "The id is empty."), z.maxLength(64, "The id is too long.")),
  text: z
    .string()
    .check(
      z.trim(),
      z.minLength(1, "The message is empty."),
      z.maxLength(
        MAX_USER_TEXT_CHARS,
        `Messages are limited to ${MAX_USER_TEXT_CHARS} characters.`,
      ),
    ),
});
const Ping = z.object({ type: z.literal("ping"), t: z.number() });
const HangUp = z.object({ type: z.literal("hang_up") });
/** The page can play assistant audio now (its audio started on a gesture): the greeting may go. */
const AudioReady = z.object({ type: z.literal("audio_ready") });
const TurnId = z.string().check(z.regex(/^v\d{1,9}$/, "Malformed voice turn id."));
/** Milliseconds the page measured: whole, non-negative, at most ten minutes. */
const PageMs = z.int().check(z.gte(0), z.lte(600_000));
/** The page stopped a reply when told to (barge-in), after playing this much of it. */
const PlaybackStopped = z.object({
  type: z.literal("playback_stopped"),
  turnId: TurnId,
  playedMs: PageMs,
});
/** The page started playing a reply, `playoutDelayMs` after its first frame arrived. */
/** The caller cancels the transfer they asked for (while it is dialing, ringing or connected). */
const CancelTransfer = z.object({ type: z.literal("cancel_transfer") });
const PlaybackStarted = z.object({
  type: z.literal("playback_started"),
  turnId: TurnId,
  playoutDelayMs: PageMs,
  rttMs: z.optional(PageMs),
});

export const ClientMessageSchema = z.discriminatedUnion("type", [
  SignIn,
  Resume,
  UserText,
  Ping,
  HangUp,
  AudioReady,
  PlaybackStopped,
  PlaybackStarted,
  CancelTransfer,
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;
export const CLIENT_MESSAGE_TYPES: readonly string[] = ClientMessageSchema.def.options.flatMap(
  (o) => o.shape.type.def.values,
);

// ---- server → client -------------------------------------------------------------------

const TeamSummary = z.object({ name: z.string(), role: z.string() });
const UserSummary = z.object({
  name: z.string(),
  timezone: z.string(),
  teams: z.array(TeamSummary),
});
/** Voice timings of one spoken reply, in ms (null when a stage did not happen). */
const VoiceFigures = z.object({
  /** Caller stopped speaking → turn decided. */
  endOfTurnDelayMs: z.nullable(z.number()),
  /** Caller stopped speaking → final transcript. */
  sttFinalDelayMs: z.nullable(z.number()),
  /** Model request → first text. */
  llmTtftMs: z.nullable(z.number()),
  /** First sentence to TTS → its first audio byte. */
  ttsTtfbMs: z.nullable(z.number()),
  /** What the server itself added on the way. */
  serverAddedMs: z.nullable(z.number()),
  /** Caller stopped speaking → first assistant audio sent. */
  endToEndMs: z.nullable(z.number()),
  /** … → first assistant audio played on the page (after the page reports it). */
  endToEndPlayedMs: z.nullable(z.number()),
  /** Started on a Flux eager end of turn. */
  speculative: z.boolean(),
});
export type VoiceFigures = z.infer<typeof VoiceFigures>;

/** A tool the assistant used in a reply, as the caller's page shows it. */
const ToolLine = z.object({
  tool: z.string(),
  ok: z.boolean(),
  /** The tool's own short line ("Added 'buy milk' for tomorrow"), if it has one. */
  text: z.optional(z.string()),
});
export type ToolLine = z.infer<typeof ToolLine>;

/** How a reply went: developer details the page shows on request. */
const ReplyDetails = z.object({
  /** From the caller's message to the first reply text. */
  firstTextMs: z.nullable(z.number()),
  totalMs: z.number(),
  interrupted: z.boolean(),
  voice: z.optional(VoiceFigures),
});
export type ReplyDetails = z.infer<typeof ReplyDetails>;

const TranscriptEntry = z.object({
  id: z.string(),
  role: z.enum(["user", "assistant", "system"]),
  text: z.string(),
  at: z.number(),
  /** An assistant reply's tool lines, kept so a resumed page shows them again. */
  tools: z.optional(z.array(ToolLine)),
  details: z.optional(ReplyDetails),
});
export type TranscriptEntry = z.infer<typeof TranscriptEntry>;

const Hello = z.object({
  type: z.literal("hello"),
  protocol: z.literal(PROTOCOL_VERSION),
  /** What the server needs next: a PIN for a new session, a token to resume one. */
  expect: z.enum(["sign_in", "resume"]),
});
const SignedIn = z.object({
  type: z.literal("signed_in"),
  sessionId: z.string(),
  resumeToken: z.string(),
  /** How long after a disconnect the session can still be resumed. */
  resumeWindowSeconds: z.number(),
  resumed: z.boolean(),
  user: UserSummary,
  transcript: z.array(TranscriptEntry),
});
const PinRejected = z.object({
  type: z.literal("pin_rejected"),
  message: z.string(),
  attemptsLeft: z.number().check(z.gte(0)),
});
const Transcript = z.object({ type: z.literal("transcript"), entry: TranscriptEntry });

/** A piece of the assistant's reply, as the model writes it. */
const AssistantDelta = z.object({
  type: z.literal("assistant_delta"),
  turnId: z.string(),
  delta: z.string(),
});
const TurnMetrics = z.object({
  /** From the caller's message to the first reply text. */
  firstTextMs: z.nullable(z.number()),
  totalMs: z.number(),
});
export type TurnMetrics = z.infer<typeof TurnMetrics>;
/** The reply is complete (or was cut short by a newer message: `interrupted`). */
const AssistantDone = z.object({
  type: z.literal("assistant_done"),
  turnId: z.string(),
  entry: TranscriptEntry,
  interrupted: z.boolean(),
  metrics: TurnMetrics,
});
/**
 * A reply cut off by the caller, as it was really heard: the page's playback report came after
 * `assistant_done`, which had the clock's estimate. Replaces that reply's text.
 */
const TranscriptRevised = z.object({
  type: z.literal("transcript_revised"),
  turnId: z.string(),
  text: z.string(),
});
/** What the agent is doing, briefly: "Added 'buy milk' for tomorrow". */
const ToolActivity = z.object({
  type: z.literal("tool_activity"),
  turnId: z.string(),
  tool: z.string(),
  status: z.enum(["started", "done", "failed"]),
  text: z.optional(z.string()),
});
/** Something the caller should know that is not the assistant speaking. */
const Notice = z.object({
  type: z.literal("notice"),
  level: z.enum(["info", "warning"]),
  code: z.enum([
    "agent_not_configured",
    "retrying",
    "transfer_requested",
    "transfer_unavailable",
    /** Speech recognition dropped out; the caller's words are kept and will be heard. */
    "audio_reconnecting",
    /** The assistant's voice failed for a reply; its text is on the page. */
    "speech_unavailable",
  ]),
  text: z.string(),
});
const Pong = z.object({ type: z.literal("pong"), t: z.number() });

/** The states of a transfer to a person (transfer/state.ts). */
export const TRANSFER_STATES = [
  "requested",
  "dialing",
  "ringing",
  "connected",
  "ended",
  "failed",
] as const;
export type TransferStateName = (typeof TRANSFER_STATES)[number];
/** Why a transfer failed, or who ended a connected one. */
export const TRANSFER_OUTCOMES = [
  "busy",
  "no_answer",
  "failed",
  "canceled",
  "timeout",
  "no_media",
  "provider_error",
  "not_configured",
  "caller_hung_up",
  "caller_ended",
  "agent_ended",
  "dropped",
] as const;
export type TransferOutcome = (typeof TRANSFER_OUTCOMES)[number];
/**
 * Where the caller's transfer to a person stands, sent on every change (and on resume). While
 * `connected`, the human's voice arrives as `HumanPcm16k` audio frames.
 */
const TransferStatus = z.object({
  type: z.literal("transfer_status"),
  transferId: z.string(),
  state: z.enum(TRANSFER_STATES),
  department: z.string(),
  /** What to tell the caller, in plain words. */
  text: z.string(),
  /** For `failed` and `ended`: why, or who ended it. */
  outcome: z.optional(z.enum(TRANSFER_OUTCOMES)),
  /** The caller may cancel (dialing, ringing) or hang up on the person (connected). */
  cancellable: z.boolean(),
  /**
   * For `connected`: how long the caller has been with the person, by the server's clock, so
   * that a reloaded or resumed page's call timer goes on from there (not from 0:00).
   */
  connectedForMs: z.optional(z.number().check(z.gte(0))),
});

/** What the caller is saying right now, before it is final (voice). */
const InterimTranscript = z.object({ type: z.literal("interim_transcript"), text: z.string() });
/** Stop playing assistant audio at once and drop what is queued: the caller spoke over it. */
const PlaybackClear = z.object({ type: z.literal("playback_clear"), turnId: z.string() });
/** Voice timings of one turn, in ms (null when a stage did not happen); see voice/turn-metrics.ts. */
const VoiceMetrics = z.object({
  type: z.literal("voice_metrics"),
  turnId: z.string(),
  ...VoiceFigures.shape,
});

export const ERROR_CODES = [
  "bad_json",
  "unknown_type",
  "invalid_message",
  "too_large",
  "not_signed_in",
  "already_signed_in",
  "bad_audio_frame",
  "audio_unavailable",
  "throttled",
  "locked_out",
  "resume_refused",
  "unavailable",
  "no_transfer",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const ErrorMessage = z.object({
  type: z.literal("error"),
  code: z.enum(ERROR_CODES),
  message: z.string(),
  /** True when the server is about to close the socket. */
  fatal: z.boolean(),
});
const SessionEnded = z.object({
  type: z.literal("session_ended"),
  reason: z.enum(["hang_up", "locked_out", "replaced", "expired"]),
  message: z.string(),
});

export const ServerMessageSchema = z.discriminatedUnion("type", [
  Hello,
  SignedIn,
  PinRejected,
  Transcript,
  AssistantDelta,
  AssistantDone,
  TranscriptRevised,
  ToolActivity,
  Notice,
  Pong,
  InterimTranscript,
  PlaybackClear,
  VoiceMetrics,
  TransferStatus,
  ErrorMessage,
  SessionEnded,
]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
export type ServerMessageOf<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;

export type ParseResult<T> =
  | { ok: true; message: T }
  | { ok: false; code: ErrorCode; message: string };

/**
 * Parses one text frame from the caller. Never throws: every failure becomes an error code
 * and a message that is safe to show (it quotes no input back).
 */
export function parseClientMessage(raw: string): ParseResult<ClientMessage> {
  if (raw.length > MAX_TEXT_FRAME_CHARS) {
    return {
      ok: false,
      code: "too_large",
      message: `Messages are limited to ${MAX_TEXT_FRAME_CHARS} characters.`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, code: "bad_json", message: "The message is not valid JSON." };
  }
  const type = typeof json === "object" && json !== null && "type" in json ? json.type : undefined;
  if (typeof type !== "string" || !CLIENT_MESSAGE_TYPES.includes(type)) {
    return {
      ok: false,
      code: "unknown_type",
      message: `Unknown message type. Expected one of: ${CLIENT_MESSAGE_TYPES.join(", ")}.`,
    };
  }
  const parsed = ClientMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    return {
      ok: false,
      code: "invalid_message",
      message: `Invalid ${type} message. ${where}${issue?.message ?? "bad shape"}`,
    };
  }
  return { ok: true, message: parsed.data };
}

/** Parses one text frame from the server (used by the page). */
export function parseServerMessage(raw: string): ParseResult<ServerMessage> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, code: "bad_json", message: "The server sent invalid JSON." };
  }
  const parsed = ServerMessageSchema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, code: "invalid_message", message: "The server sent an unknown message." };
  }
  return { ok: true, message: parsed.data };
}
