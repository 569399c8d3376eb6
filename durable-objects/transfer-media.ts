/**
 * Twilio's media stream of a transfer: admitted only with the transfer's single-use token, then
 * the audio bridge both ways (the caller's frames to the person as μ-law `media`, the person's
 * back to the page as 16 kHz frames), a mark that says when the person first heard the caller,
 * and a `clear` when the caller leaves. State changes go back to the transfer as events.
 */
import { AudioFrameKind } from "../protocol/audio-frame.ts";
import { TelephonyBridge } from "../transfer/bridge.ts";
import { clearMessage, markMessage, parseMediaMessage } from "../transfer/media-stream.ts";
import { isActive, type Transfer, type TransferEvent } from "../transfer/state.ts";
import type { Logger } from "../worker/log.ts";
import type { SessionSockets } from "./session-sockets.ts";
import { digestsEqual, hashResumeToken, newResumeToken } from "./session-store.ts";

const TOKEN_KEY = "transferMediaToken";
const FIRST_AUDIO_MARK = "caller-audio-start";
/** Close code for a media stream we refuse. */
const POLICY_VIOLATION = 1008;

export interface TransferMediaDeps {
  storage: DurableObjectStorage;
  sockets: SessionSockets;
  bridgeAudio: "transcode" | "relay";
  current(): Transfer | undefined;
  apply(event: TransferEvent): Promise<void>;
  /** The session's logger (every line carries its id). */
  log: Logger;
}

export class TransferMedia {
  readonly #deps: TransferMediaDeps;
  #bridge: TelephonyBridge | undefined;
  /** The accepted stream's socket, found once per wake-up (not per 20 ms frame). */
  #socket: WebSocket | undefined;
  /** When the mark after the caller's first audio left, to log when the person heard it. */
  #markSentAt: number | undefined;

  constructor(deps: TransferMediaDeps) {
    this.#deps = deps;
  }

  /** A new single-use token for the TwiML; only its hash is kept. */
  async issueToken(): Promise<string> {
    const token = newResumeToken();
    this.#deps.storage.kv.put(TOKEN_KEY, await hashResumeToken(token));
    return token;
  }

  callerAudio(transfer: Transfer, pcm: Uint8Array) {
    const { streamSid } = transfer;
    const ws = streamSid ? this.#streamSocket(streamSid) : undefined;
    if (!streamSid || !ws) return;
    for (const message of this.#bridgeNow().toTwilio(streamSid, pcm)) ws.send(message);
    if (this.#markSentAt === undefined) {
      // Twilio echoes a mark once the audio before it has played: when the person first heard.
      this.#markSentAt = Date.now();
      ws.send(markMessage(streamSid, FIRST_AUDIO_MARK));
    }
  }

  async message(ws: WebSocket, raw: string | ArrayBuffer) {
    if (typeof raw !== "string") return this.#refuse(ws, "binary frame on a media stream");
    const parsed = parseMediaMessage(raw);
    if (!parsed.ok) return this.#refuse(ws, `bad media message (${parsed.error})`);
    const message = parsed.message;
    const attachment = this.#deps.sockets.attachment(ws);
    if (attachment.role !== "media") return;
    if (message.event === "connected") return;
    if (message.event === "start") return this.#start(ws, message.start);
    // Nothing but `connected` and `start` before the stream is accepted.
    if (attachment.streamSid === null || message.streamSid !== attachment.streamSid) {
      return this.#refuse(ws, `${message.event} before an accepted start`);
    }
    switch (message.event) {
      case "media": {
        const pcm = this.#bridgeNow().fromTwilio(message.media.payload);
        if (!pcm) return this.#deps.log.warn("transfer", "media_payload_dropped");
        this.#deps.sockets.sendAudio(AudioFrameKind.HumanPcm16k, pcm);
        return;
      }
      case "mark":
        if (message.mark.name === FIRST_AUDIO_MARK && this.#markSentAt !== undefined) {
          this.#deps.log.info("transfer", "person_hears_caller", {
            afterMs: Date.now() - this.#markSentAt,
          });
        }
        return;
      case "dtmf":
        // Which digit is not logged: it may be something typed for a system, not for us.
        return this.#deps.log.info("transfer", "dtmf_from_person");
      case "stop":
        return this.#deps.apply({ type: "media_stopped", at: Date.now() });
    }
  }

  /**
   * Twilio ends a stream with `stop` before it closes (the person hung up: `media_stopped` came
   * then), so a close while still connected is the line dropping, not the person ending the call:
   * a network fault, or the runtime going down under the stream.
   */
  async closed(ws: WebSocket) {
    const attachment = this.#deps.sockets.attachment(ws);
    if (attachment.role !== "media" || attachment.streamSid === null) return;
    if (this.#deps.current()?.streamSid === attachment.streamSid) {
      await this.#deps.apply({ type: "media_lost", at: Date.now() });
    }
  }

  /** The transfer is over: the stream closes (cleared first if the caller left) and is forgotten. */
  close(transfer: Transfer) {
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
    this.#bridge = undefined;
    this.#socket = undefined;
    this.#deps.storage.kv.delete(TOKEN_KEY);
  }

  async #start(
    ws: WebSocket,
    start: { streamSid: string; callSid: string; customParameters?: Record<string, string> },
  ) {
    const transfer = this.#deps.current();
    const expected = this.#deps.storage.kv.get<string>(TOKEN_KEY);
    const token = start.customParameters?.token ?? "";
    const tokenOk =
      expected !== undefined && /^[A-Za-z0-9_-]{20,128}$/.test(token)
        ? digestsEqual(await hashResumeToken(token), expected)
        : false;
    if (!tokenOk || !transfer || transfer.callSid !== start.callSid || !isActive(transfer)) {
      return this.#refuse(ws, tokenOk ? "stream for another call" : "missing, wrong or used token");
    }
    // Single use: a replayed start, even with the right token, finds none.
    this.#deps.storage.kv.delete(TOKEN_KEY);
    this.#deps.sockets.attach(ws, {
      role: "media",
      transferId: transfer.id,
      streamSid: start.streamSid,
    });
    this.#bridge = new TelephonyBridge(this.#deps.bridgeAudio);
    this.#socket = ws;
    this.#markSentAt = undefined;
    await this.#deps.apply({ type: "media_started", streamSid: start.streamSid, at: Date.now() });
  }

  #bridgeNow(): TelephonyBridge {
    this.#bridge ??= new TelephonyBridge(this.#deps.bridgeAudio);
    return this.#bridge;
  }

  #streamSocket(streamSid: string): WebSocket | undefined {
    if (this.#socket?.readyState === WebSocket.OPEN) return this.#socket;
    this.#socket = this.#deps.sockets.media().find((ws) => {
      const attachment = this.#deps.sockets.attachment(ws);
      return attachment.role === "media" && attachment.streamSid === streamSid;
    });
    return this.#socket;
  }

  #refuse(ws: WebSocket, why: string) {
    this.#deps.log.warn("transfer", "media_stream_refused", { why });
    try {
      ws.close(POLICY_VIOLATION, "Refused");
    } catch {
      // already closed
    }
  }
}
