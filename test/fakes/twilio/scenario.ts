/**
 * What a test scripts the fake Twilio to do with a call, and what it reports back. No node:*
 * imports: client.ts imports from here, and it also runs inside workerd.
 */
import { z } from "zod";

/** The statuses a scripted step can move a call to (`initiated` is a callback-only status). */
export const STEP_STATUSES = [
  "initiated",
  "ringing",
  "in-progress",
  "completed",
  "busy",
  "no-answer",
  "failed",
  "canceled",
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];
export const TERMINAL_STATUSES = ["completed", "busy", "no-answer", "failed", "canceled"] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];
/** A call's status inside the fake: the REST resource shows `initiated` as `queued`. */
export type CallStatus = "queued" | StepStatus;

export function isTerminal(status: CallStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/** Wall-clock delay before this step, from the end of the previous one. */
const afterMs = z.number().nonnegative().max(600_000).optional();

export const ToneSchema = z.object({
  hz: z.number().positive().max(4000),
  ms: z.number().positive().max(120_000),
  amplitude: z.number().min(0).max(1),
});

export const StepSchema = z.union([
  /** Moves the call to `status` and sends its callback if subscribed; `in-progress` answers
   * and, unless `openStream` is false, runs the call's TwiML (opening its Media Stream). */
  z.strictObject({
    status: z.enum(STEP_STATUSES),
    sipResponseCode: z.number().int().min(100).max(699).optional(),
    openStream: z.boolean().optional(),
    afterMs,
  }),
  /** One raw, signed status callback with these params over the call's own; no state change.
   * `SequenceNumber` defaults to the call's next one. */
  z.strictObject({
    callback: z.record(z.string(), z.union([z.string(), z.number()]).transform(String)),
    afterMs,
  }),
  /** The human speaks: the next step starts once the tone has been sent. */
  z.strictObject({ tone: ToneSchema, afterMs }),
  /** One `dtmf` message per key. */
  z.strictObject({ dtmf: z.string().regex(/^[0-9*#A-D]+$/), afterMs }),
  /** The human hangs up: `stop` on the stream, the stream closed, the completed callback. */
  z.strictObject({ hangup: z.literal(true), afterMs }),
  z.strictObject({ wait: z.number().nonnegative().max(600_000), afterMs }),
]);
export type Step = z.input<typeof StepSchema>;
export type ParsedStep = z.output<typeof StepSchema>;

export const ScenarioSchema = z.object({
  /** A created call takes the oldest unused scenario whose `match` occurs in its `To`. */
  match: z.string().min(1),
  steps: z.array(StepSchema),
});

export interface CallbackRecord {
  url: string;
  CallStatus: string;
  SequenceNumber: string;
  /** Everything sent, as signed. */
  params: Record<string, string>;
  /** What the app answered; null when the request failed (see `error`). */
  httpStatus: number | null;
  error?: string;
}

export interface UpdateRecord {
  Status?: string;
  Twiml?: string;
  Url?: string;
  /** Epoch ms. */
  at: number;
  /** What the fake answered. */
  httpStatus: number;
}

export interface StreamRecord {
  url: string;
  streamSid: string;
  customParameters: Record<string, string>;
  /** The app completed the handshake and kept the socket open past the grace after `start`. */
  accepted: boolean;
  /** The HTTP status of a refused upgrade (Twilio's error 31920). */
  upgradeStatus: number | null;
  closedBy: "app" | "fake" | null;
  closeCode: number | null;
  closeReason: string | null;
  /** `media` messages the fake (the human) sent. */
  framesSent: number;
  /** `media` messages the app sent. */
  framesReceived: number;
  marksReceived: string[];
  /** Marks echoed back, in order (after their audio played, or at a `clear`). */
  marksEchoed: string[];
  clears: number;
  /** The app's audio, decoded to 8 kHz PCM16LE, base64; the first 30 s only. */
  received: string;
  receivedMs: number;
  /** The app's audio dropped unplayed by `clear`. */
  droppedMs: number;
  dtmfSent: string[];
  errors: string[];
}

export interface CallRecord {
  sid: string;
  /** Everything posted to create the call; SipAuthPassword shows as "***", a repeated param
   * (StatusCallbackEvent) as its values space-separated. */
  params: Record<string, string>;
  status: CallStatus;
  statuses: CallStatus[];
  callbacks: CallbackRecord[];
  updates: UpdateRecord[];
  /** The latest Media Stream of the call. */
  stream: StreamRecord | null;
  errors: string[];
}
