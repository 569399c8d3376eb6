/**
 * One session's transfer to a person: owns the state machine (transfer/state.ts), persisted in
 * the object's storage and mirrored to the `transfers` row; dials through Twilio; takes Twilio's
 * status callbacks and its media stream; bridges the caller's audio both ways while connected;
 * and tells the caller (and, through the session, the assistant) how it went.
 */
import { AudioFrameKind } from "../protocol/audio-frame.ts";
import { TelephonyBridge } from "../transfer/bridge.ts";
import { clearMessage, markMessage, parseMediaMessage } from "../transfer/media-stream.ts";
import {
  type CallStatus,
  isActive,
  newTransfer,
  reduce,
  type Transfer,
  type TransferEvent,
} from "../transfer/state.ts";
import { fallbackSummary, summarizeForHandover } from "../transfer/summary.ts";
import { createCall, endCall } from "../transfer/twilio-api.ts";
import { bridgeTwiml, sipUri, statusCallbackUrl } from "../transfer/twilio-webhooks.ts";
import { describeTransfer } from "../transfer/words.ts";
import type { Config } from "../worker/config.ts";
import type { Database } from "../worker/db/client.ts";
import {
  findDepartmentAgent,
  insertTransfer,
  updateTransferState,
  updateTransferSummary,
} from "../worker/db/transfers.ts";
import { log } from "../worker/log.ts";
import type { Deadlines } from "./deadlines.ts";
import type { SessionSockets } from "./session-sockets.ts";
import {
  digestsEqual,
  hashResumeToken,
  newResumeToken,
  type SessionStore,
} from "./session-store.ts";

const KEYS = { transfer: "transfer", mediaTokenHash: "transferMediaToken" } as const;
/** Backstop after Twilio's own ring timeout, which should end the call first (as no-answer). */
const RING_DEADLINE_GRACE_MS = 15_000;
const FIRST_AUDIO_MARK = "caller-audio-start";
/** Close codes for a media stream we refuse. */
const POLICY_VIOLATION = 1008;

export interface TransferDeps {
  config: Config;
  sessionId: string;
  storage: DurableObjectStorage;
  store: SessionStore;
  deadlines: Deadlines;
  sockets: SessionSockets;
  db: () => Database;
  /** The person answered and the audio is bridged: the assistant steps aside. */
  onConnected(): Promise<void>;
  /** The transfer is over: the session tells the caller and the assistant. */
  onFinished(transfer: Transfer): Promise<void>;
  background(label: string, work: () => Promise<unknown>): void;
}

export type TransferRequestResult =
  | { ok: true; department: string; agentName: string | null; extension: string }
  | { ok: false; reason: "not_configured" | "busy_with_another" | "no_session"; message: string };

export class TransferSession {
  readonly #deps: TransferDeps;
  /** Writes to the row, one after another, so a later state never lands before an earlier one. */
  #rowWrites: Promise<void> = Promise.resolve();
  #bridge: TelephonyBridge | undefined;
  /**
   * The stored transfer, read once per wake-up: the bridge asks for it on every 20 ms frame,
   * and reading and deserialising storage would cost more than the frame's own work.
   */
  #transfer: { value: Transfer | undefined } | undefined;
  /** The accepted media stream's socket, found once per wake-up for the same reason. */
  #media: WebSocket | undefined;
  /** When the mark after the caller's first audio left, to log when the person heard it. */
  #markSentAt: number | undefined;

  constructor(deps: TransferDeps) {
    this.#deps = deps;
  }

  get current(): Transfer | undefined {
    this.#transfer ??= { value: this.#deps.storage.kv.get<Transfer>(KEYS.transfer) };
    return this.#transfer.value;
  }

  /** The caller's audio goes to the person instead of the assistant. */
  get bridging(): boolean {
    return this.current?.state === "connected";
  }

  /** Asked for by the agent's `transfer_to_agent` tool (the caller has confirmed). */
  async request(department: string, reason: string): Promise<TransferRequestResult> {
    const session = this.#deps.store.session;
    if (!session) return { ok: false, reason: "no_session", message: "No caller is signed in." };
    const existing = this.current;
    if (existing && isActive(existing)) {
      return {
        ok: false,
        reason: "busy_with_another",
        message: `A transfer to ${existing.department} is already ${existing.state}.`,
      };
    }
    const db = this.#deps.db();
    const agent = await findDepartmentAgent(db, department);
    const settings = this.#deps.config.transfer;
    const transfer = newTransfer({
      id: crypto.randomUUID(),
      department: agent?.department ?? department,
      extension: agent?.extension ?? settings?.defaultExtension ?? "2001",
      agent: agent ? { id: agent.id, name: agent.name } : null,
      reason,
      at: Date.now(),
    });
    const transcript = this.#deps.store.transcript;
    const context = {
      sessionId: session.sessionId,
      userId: session.user.id,
      caller: {
        name: session.user.name,
        email: session.user.email ?? "",
        teams: session.user.teams.map(({ name, role }) => ({ name, role })),
      },
      transcript: transcript.map(({ role, text, at }) => ({ role, text, at })),
      summary: fallbackSummary(transcript, reason),
    };
    // The row exists before anything rings, so the dashboard can read it the moment it does;
    // the model's summary replaces the fallback one when it comes (within its time limit).
    await insertTransfer(db, transfer, context);
    this.#save(transfer);
    log.info("transfer", "requested", {
      session: session.sessionId.slice(0, 12),
      transfer: transfer.id,
      department: transfer.department,
      extension: transfer.extension,
    });
    this.#notify(transfer);
    this.#deps.background("transfer summary", async () => {
      const summary = await summarizeForHandover(this.#deps.config.agent, transcript, reason);
      if (summary.source === "model") await this.#writeSummary(transfer.id, summary.summary);
    });
    if (!settings) {
      log.warn(
        "transfer",
        `not configured: missing ${this.#deps.config.transferMissing.join(", ")}`,
      );
      await this.#apply({ type: "dial_failed", outcome: "not_configured", at: Date.now() });
      return {
        ok: false,
        reason: "not_configured",
        message: "Transfer to a person is not set up on this server.",
      };
    }
    this.#deps.background("transfer dial", () => this.#dial(transfer, session.user.name));
    return {
      ok: true,
      department: transfer.department,
      agentName: transfer.agent?.name ?? null,
      extension: transfer.extension,
    };
  }

  async #dial(transfer: Transfer, callerName: string) {
    const settings = this.#deps.config.transfer;
    if (!settings) return;
    const token = newResumeToken();
    this.#deps.storage.kv.put(KEYS.mediaTokenHash, await hashResumeToken(token));
    try {
      const call = await createCall(settings, {
        to: sipUri(settings, transfer.extension, {
          "X-Session": this.#deps.sessionId,
          "X-Transfer": transfer.id,
          "X-Caller-Name": callerName.slice(0, 80),
        }),
        twiml: bridgeTwiml(settings, this.#deps.sessionId, token),
        statusCallback: statusCallbackUrl(settings, this.#deps.sessionId),
        timeoutSeconds: settings.ringTimeoutSeconds,
      });
      const after = await this.#apply({ type: "dialed", callSid: call.sid, at: Date.now() });
      // The caller cancelled while the call was being created: end it at once.
      if (after?.id !== transfer.id || after.callSid !== call.sid || !isActive(after)) {
        await endCall(settings, call.sid, false).catch(() => undefined);
      }
    } catch (error) {
      log.error("transfer", "Twilio call could not be created", error);
      await this.#apply({ type: "dial_failed", outcome: "provider_error", at: Date.now() });
    }
  }

  /** A status callback from Twilio (its signature already checked by the Worker). */
  async providerStatus(callSid: string, status: CallStatus) {
    const transfer = this.current;
    if (!transfer || transfer.callSid !== callSid) {
      log.warn("transfer", `status ${status} for a call that is not this session's current one`);
      return;
    }
    await this.#apply({ type: "provider_status", status, at: Date.now() });
  }

  /** The caller pressed cancel, or hung up on the person. */
  async cancel(): Promise<boolean> {
    if (!isActive(this.current)) return false;
    await this.#apply({ type: "caller_cancel", at: Date.now() });
    return true;
  }

  /** The caller's session is ending. */
  async callerGone() {
    if (!isActive(this.current)) return;
    await this.#apply({ type: "caller_gone", at: Date.now() });
  }

  /** The transfer deadline passed (ring backstop, or no media stream after an answer). */
  async deadlinePassed() {
    await this.#apply({ type: "deadline", at: Date.now() });
  }

  /**
   * After a restart the media stream cannot have survived (a hibernated one would have): a
   * transfer still marked connected without it is over.
   */
  async reconcile() {
    if (this.current?.state === "connected" && this.#deps.sockets.media().length === 0) {
      await this.#apply({ type: "media_lost", at: Date.now() });
    }
  }

  /** Tells a (re)connected caller socket where the transfer stands. */
  showTo(ws: WebSocket) {
    const transfer = this.current;
    if (transfer && isActive(transfer)) this.#deps.sockets.send(ws, describeTransfer(transfer));
  }

  /** One frame of the caller's 16 kHz PCM, while connected. */
  callerAudio(pcm: Uint8Array) {
    const transfer = this.current;
    if (transfer?.state !== "connected" || !transfer.streamSid) return;
    const ws = this.#mediaSocket(transfer.streamSid);
    if (!ws) return;
    this.#bridge ??= this.#newBridge();
    for (const message of this.#bridge.toTwilio(transfer.streamSid, pcm)) ws.send(message);
    if (this.#markSentAt === undefined) {
      // Twilio echoes a mark once the audio before it has played: when the person first heard.
      this.#markSentAt = Date.now();
      ws.send(markMessage(transfer.streamSid, FIRST_AUDIO_MARK));
    }
  }

  #mediaSocket(streamSid: string): WebSocket | undefined {
    if (this.#media?.readyState === WebSocket.OPEN) return this.#media;
    this.#media = this.#deps.sockets.media().find((ws) => {
      const attachment = this.#deps.sockets.attachment(ws);
      return attachment.role === "media" && attachment.streamSid === streamSid;
    });
    return this.#media;
  }

  // ---- the media stream --------------------------------------------------------------------

  async mediaMessage(ws: WebSocket, raw: string | ArrayBuffer) {
    if (typeof raw !== "string") return this.#refuse(ws, "binary frame on a media stream");
    const parsed = parseMediaMessage(raw);
    if (!parsed.ok) return this.#refuse(ws, `bad media message (${parsed.error})`);
    const message = parsed.message;
    const attachment = this.#deps.sockets.attachment(ws);
    if (attachment.role !== "media") return;
    if (message.event === "connected") return;
    if (message.event === "start") return this.#mediaStart(ws, message.start);
    // Nothing but `connected` and `start` before the stream is accepted.
    if (attachment.streamSid === null || message.streamSid !== attachment.streamSid) {
      return this.#refuse(ws, `${message.event} before an accepted start`);
    }
    switch (message.event) {
      case "media": {
        this.#bridge ??= this.#newBridge();
        const pcm = this.#bridge.fromTwilio(message.media.payload);
        if (!pcm) return log.warn("transfer", "media payload is not base64; dropped");
        this.#deps.sockets.sendAudio(AudioFrameKind.HumanPcm16k, pcm);
        return;
      }
      case "mark":
        if (message.mark.name === FIRST_AUDIO_MARK && this.#markSentAt !== undefined) {
          log.info("transfer", "the person hears the caller", {
            afterMs: Date.now() - this.#markSentAt,
          });
        }
        return;
      case "dtmf":
        return log.info("transfer", "DTMF from the agent's side", { digit: message.dtmf.digit });
      case "stop":
        await this.#apply({ type: "media_stopped", at: Date.now() });
        return;
    }
  }

  async mediaClosed(ws: WebSocket) {
    const attachment = this.#deps.sockets.attachment(ws);
    if (attachment.role !== "media" || attachment.streamSid === null) return;
    if (this.current?.streamSid === attachment.streamSid) {
      await this.#apply({ type: "media_stopped", at: Date.now() });
    }
  }

  async #mediaStart(
    ws: WebSocket,
    start: { streamSid: string; callSid: string; customParameters?: Record<string, string> },
  ) {
    const transfer = this.current;
    const expected = this.#deps.storage.kv.get<string>(KEYS.mediaTokenHash);
    const token = start.customParameters?.token ?? "";
    const tokenOk =
      expected !== undefined && /^[A-Za-z0-9_-]{20,128}$/.test(token)
        ? digestsEqual(await hashResumeToken(token), expected)
        : false;
    if (!tokenOk || !transfer || transfer.callSid !== start.callSid || !isActive(transfer)) {
      return this.#refuse(ws, tokenOk ? "stream for another call" : "missing, wrong or used token");
    }
    // Single use: a replayed start, even with the right token, finds none.
    this.#deps.storage.kv.delete(KEYS.mediaTokenHash);
    this.#deps.sockets.attach(ws, {
      role: "media",
      transferId: transfer.id,
      streamSid: start.streamSid,
    });
    this.#bridge = this.#newBridge();
    this.#media = ws;
    this.#markSentAt = undefined;
    await this.#apply({ type: "media_started", streamSid: start.streamSid, at: Date.now() });
  }

  #newBridge(): TelephonyBridge {
    return new TelephonyBridge(this.#deps.config.transfer?.bridgeAudio);
  }

  #refuse(ws: WebSocket, why: string) {
    log.warn("transfer", `media stream refused: ${why}`);
    try {
      ws.close(POLICY_VIOLATION, "Refused");
    } catch {
      // already closed
    }
  }

  // ---- state changes -----------------------------------------------------------------------

  async #apply(event: TransferEvent): Promise<Transfer | undefined> {
    const before = this.current;
    if (!before) return undefined;
    const { transfer, changed, hangUp } = reduce(before, event);
    if (!changed) return transfer;
    this.#save(transfer);
    log.info("transfer", `${before.state} → ${transfer.state}`, {
      transfer: transfer.id,
      event: event.type === "provider_status" ? `status ${event.status}` : event.type,
      ...(transfer.outcome ? { outcome: transfer.outcome } : {}),
    });
    this.#notify(transfer);
    this.#writeRow(transfer);
    await this.#deadline(transfer);
    if (hangUp && transfer.callSid) this.#hangUp(transfer.callSid, before.answeredAt !== null);
    if (transfer.state === "connected" && before.state !== "connected") {
      await this.#deps.onConnected();
    }
    if (!isActive(transfer)) {
      this.#closeMedia(transfer);
      this.#bridge = undefined;
      this.#media = undefined;
      this.#deps.storage.kv.delete(KEYS.mediaTokenHash);
      await this.#deps.onFinished(transfer);
    }
    return transfer;
  }

  async #deadline(transfer: Transfer) {
    const settings = this.#deps.config.transfer;
    if (!settings || !isActive(transfer) || transfer.state === "connected") {
      return this.#deps.deadlines.clear("transfer");
    }
    if (transfer.answeredAt !== null) {
      return this.#deps.deadlines.set(
        "transfer",
        transfer.answeredAt + settings.mediaStartTimeoutMs,
      );
    }
    if (transfer.state === "dialing") {
      await this.#deps.deadlines.set(
        "transfer",
        Date.now() + settings.ringTimeoutSeconds * 1000 + RING_DEADLINE_GRACE_MS,
      );
    }
  }

  #hangUp(callSid: string, answered: boolean) {
    const settings = this.#deps.config.transfer;
    if (!settings) return;
    this.#deps.background("transfer hang-up", () => endCall(settings, callSid, answered));
  }

  #closeMedia(transfer: Transfer) {
    for (const ws of this.#deps.sockets.media()) {
      try {
        // The caller left: what Twilio still buffers of their audio is not played to the person.
        if (transfer.streamSid && transfer.outcome !== "agent_ended") {
          ws.send(clearMessage(transfer.streamSid));
        }
        ws.close(1000, transfer.outcome === "agent_ended" ? "Stream stopped" : "Transfer ended");
      } catch {
        // already closed
      }
    }
  }

  #save(transfer: Transfer) {
    this.#deps.storage.kv.put(KEYS.transfer, transfer);
    this.#transfer = { value: transfer };
  }

  #notify(transfer: Transfer) {
    this.#deps.sockets.broadcast(describeTransfer(transfer));
  }

  #writeRow(transfer: Transfer) {
    const write = this.#rowWrites.then(() => updateTransferState(this.#deps.db(), transfer));
    this.#rowWrites = write.catch(() => undefined);
    this.#deps.background(`transfer row ${transfer.state}`, () => write);
  }

  #writeSummary(id: string, summary: string): Promise<void> {
    const write = this.#rowWrites.then(() => updateTransferSummary(this.#deps.db(), id, summary));
    this.#rowWrites = write.catch(() => undefined);
    return write;
  }
}
