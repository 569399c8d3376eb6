/**
 * The dashboard's HTTP API as data: every request and response body between the agent dashboard
 * (web/dashboard) and the Worker (worker/dashboard), validated with zod on arrival on both sides.
 */
import * as z from "zod/mini";
import { TRANSFER_STATES } from "../../protocol/messages.ts";

export const loginRequest = z.object({
  login: z.string().check(z.minLength(1), z.maxLength(64)),
  password: z.string().check(z.minLength(1), z.maxLength(256)),
});
export type LoginRequest = z.infer<typeof loginRequest>;

export const iceServer = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.optional(z.string()),
  credential: z.optional(z.string()),
});
export type IceServer = z.infer<typeof iceServer>;
export const iceServers = z.array(iceServer);

/** Who is signed in and how their softphone reaches the PBX. No SIP password: the agent types it. */
export const me = z.object({
  agent: z.object({
    name: z.string(),
    login: z.string(),
    extension: z.string(),
    department: z.string(),
  }),
  sip: z.object({
    /** The PBX's SIP-over-WebSocket endpoint (wss:// in production). Empty: not configured. */
    wssUrl: z.string(),
    /** The SIP domain the extension registers in. */
    domain: z.string(),
    iceServers,
  }),
  /** Epoch ms. */
  sessionExpiresAt: z.number(),
});
export type Me = z.infer<typeof me>;

export const transferStatus = z.enum(TRANSFER_STATES);

export const callerProfile = z.object({
  name: z.string(),
  email: z.optional(z.nullable(z.string())),
  teams: z.optional(z.array(z.object({ name: z.string(), role: z.string() }))),
});
export type CallerProfile = z.infer<typeof callerProfile>;

export const transcriptEntry = z.object({
  role: z.string(),
  text: z.string(),
  /** Epoch ms. */
  at: z.optional(z.number()),
});
export const transcript = z.array(transcriptEntry);
export type TranscriptEntry = z.infer<typeof transcriptEntry>;

/** What the agent sees when a transferred caller rings. */
export const transferContext = z.object({
  sessionId: z.string(),
  status: transferStatus,
  department: z.nullable(z.string()),
  reason: z.nullable(z.string()),
  summary: z.nullable(z.string()),
  caller: z.nullable(callerProfile),
  transcript,
  /** Epoch ms. */
  requestedAt: z.number(),
});
export type TransferContext = z.infer<typeof transferContext>;

export const callOutcome = z.enum(["answered", "missed", "rejected"]);
export type CallOutcome = z.infer<typeof callOutcome>;

export const dispositions = ["resolved", "follow_up", "escalated", "other"] as const;
export const disposition = z.enum(dispositions);
export type Disposition = z.infer<typeof disposition>;

/** The SIP session id header carries a CallSession id: 64 hex digits. */
export const SESSION_ID = /^[0-9a-f]{64}$/;

/** A call as the softphone saw it, recorded when it ends. */
export const recordCallRequest = z.object({
  sessionId: z.nullable(z.string().check(z.regex(SESSION_ID))),
  remoteIdentity: z.string().check(z.minLength(1), z.maxLength(300)),
  outcome: callOutcome,
  startedAt: z.number(),
  answeredAt: z.nullable(z.number()),
  endedAt: z.number(),
});
export type RecordCallRequest = z.infer<typeof recordCallRequest>;

export const notesRequest = z.object({
  disposition,
  notes: z.string().check(z.maxLength(4000)),
});
export type NotesRequest = z.infer<typeof notesRequest>;

export const agentCall = z.object({
  id: z.string(),
  sessionId: z.nullable(z.string()),
  remoteIdentity: z.string(),
  /** The transferred caller's name, when the call came with a known session. */
  callerName: z.nullable(z.string()),
  reason: z.nullable(z.string()),
  outcome: z.string(),
  startedAt: z.number(),
  answeredAt: z.nullable(z.number()),
  endedAt: z.nullable(z.number()),
  disposition: z.nullable(z.string()),
  notes: z.nullable(z.string()),
});
export type AgentCall = z.infer<typeof agentCall>;
export const agentCalls = z.object({ calls: z.array(agentCall) });

export const apiError = z.object({ error: z.string(), retryAfterSeconds: z.optional(z.number()) });
