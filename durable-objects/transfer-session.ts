/**
 * One session's transfer to a person: owns the state machine (transfer/state.ts), persisted in
 * the object's storage and mirrored to the `transfers` row; dials through Twilio; takes Twilio's
 * status callbacks; hands the media stream and the audio to `TransferMedia`; and tells the
 * caller (and, through the session, the assistant) how it went.
 */
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
import { type Logger, log } from "../worker/log.ts";
import type { Deadlines } from "./deadlines.ts";
import type { SessionSockets } from "./session-sockets.ts";
import type { SessionStore } from "./session-store.ts";
import { TransferMedia } from "./transfer-media.ts";

const TRANSFER_KEY = "transfer";
/**
 * The id of a transfer that ended and whose caller and assistant are not yet told: written with
 * the end (one commit), removed once told. A restart in between leaves it for the caller's return.
 */
const HAND_BACK_KEY = "transferHandBack";
/** Backstop after Twilio's own ring timeout, which should end the call first (as no-answer). */
const RING_DEADLINE_GRACE_MS = 15_000;

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
  readonly #media: TransferMedia;
  /**
   * The stored transfer, read once per wake-up: the bridge asks for it on every 20 ms frame,
   * and reading and deserialising storage would cost more than the frame's own work.
   */
  #transfer: { value: Transfer | undefined } | undefined;
  readonly #log: Logger;
  /**
   * The transfer being handed back by this instance, from the commit of its end: a caller's
   * return meanwhile does not hand it back again.
   */
  #handingBack: string | undefined;

  constructor(deps: TransferDeps) {
    this.#deps = deps;
    this.#log = log.with({ session: deps.sessionId });
    this.#media = new TransferMedia({
      log: this.#log,
      storage: deps.storage,
      sockets: deps.sockets,
      bridgeAudio: deps.config.transfer?.bridgeAudio ?? "transcode",
      current: () => this.current,
      apply: (event) => this.#apply(event).then(() => undefined),
    });
  }

  get current(): Transfer | undefined {
    this.#transfer ??= { value: this.#deps.storage.kv.get<Transfer>(TRANSFER_KEY) };
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
    this.#log.info("transfer", "transfer_requested", {
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
      this.#log.warn("transfer", "transfer_unconfigured", {
        missing: this.#deps.config.transferMissing.join(", "),
      });
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
    const token = await this.#media.issueToken();
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
      this.#log.error("transfer", "provider_error", {
        provider: "twilio",
        transfer: transfer.id,
        error,
      });
      await this.#apply({ type: "dial_failed", outcome: "provider_error", at: Date.now() });
    }
  }

  /** A status callback from Twilio (its signature already checked by the Worker). */
  async providerStatus(callSid: string, status: CallStatus) {
    const transfer = this.current;
    if (!transfer || transfer.callSid !== callSid) {
      this.#log.warn("transfer", "status_for_another_call", { status });
      return;
    }
    // After a restart Twilio's "completed" (it hangs up once our stream is gone) can come before
    // the caller is back: the line dropped, the person did not end the call.
    await this.reconcile();
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
  async reconcile(): Promise<boolean> {
    if (this.current?.state !== "connected" || this.#deps.sockets.media().length > 0) return false;
    await this.#apply({ type: "media_lost", at: Date.now() });
    return true;
  }

  /**
   * The caller is back after a restart that came between a transfer's end and their being told
   * of it: told now (and the assistant given its note), once.
   */
  async handBackIfCut() {
    const transfer = this.current;
    if (!transfer || isActive(transfer) || this.#handingBack === transfer.id) return;
    if (this.#deps.storage.kv.get<string>(HAND_BACK_KEY) !== transfer.id) return;
    this.#log.warn("transfer", "hand_back_after_restart", { transfer: transfer.id });
    this.#handingBack = transfer.id;
    await this.#handBack(transfer);
  }

  /**
   * Tells a (re)connected caller socket where the transfer stands: one still going, or one that
   * ended at or after `awaySince` — while the caller was away, so they were never told.
   */
  showTo(ws: WebSocket, awaySince?: number) {
    const transfer = this.current;
    if (!transfer) return;
    const endedWhileAway =
      awaySince !== undefined && transfer.endedAt !== null && transfer.endedAt >= awaySince;
    if (isActive(transfer) || endedWhileAway) {
      this.#deps.sockets.send(ws, describeTransfer(transfer));
    }
  }

  /** One frame of the caller's 16 kHz PCM: to the person, while connected. */
  callerAudio(pcm: Uint8Array) {
    const transfer = this.current;
    if (transfer?.state === "connected") this.#media.callerAudio(transfer, pcm);
  }

  /** A message on Twilio's media stream. */
  mediaMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    return this.#media.message(ws, raw);
  }

  mediaClosed(ws: WebSocket): Promise<void> {
    return this.#media.closed(ws);
  }

  // ---- state changes -----------------------------------------------------------------------

  async #apply(event: TransferEvent): Promise<Transfer | undefined> {
    const before = this.current;
    if (!before) return undefined;
    const { transfer, changed, hangUp } = reduce(before, event);
    if (!changed) return transfer;
    this.#save(transfer);
    if (!isActive(transfer)) {
      this.#deps.storage.kv.put(HAND_BACK_KEY, transfer.id);
      this.#handingBack = transfer.id;
    }
    this.#log.info("transfer", "transfer_state", {
      transfer: transfer.id,
      from: before.state,
      to: transfer.state,
      cause: event.type === "provider_status" ? `status ${event.status}` : event.type,
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
      this.#media.close(transfer);
      await this.#handBack(transfer);
    }
    return transfer;
  }

  /** Tells the caller and the assistant (`#handingBack` already set), then removes the mark. */
  async #handBack(transfer: Transfer) {
    try {
      await this.#deps.onFinished(transfer);
    } finally {
      this.#handingBack = undefined;
      this.#deps.storage.kv.delete(HAND_BACK_KEY);
    }
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

  #save(transfer: Transfer) {
    this.#deps.storage.kv.put(TRANSFER_KEY, transfer);
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
