/**
 * Twilio's end of a bidirectional Media Stream (`<Connect><Stream>`), as a WebSocket client:
 * the upgrade is signed (`X-Twilio-Signature` over the stream URL, no params); then `connected`,
 * `start`, `media` every 20 ms (the human's tones, μ-law silence between them unless
 * `silence: false`), `dtmf`, `mark` echoes and `stop`, all with string sequence numbers. From
 * the app it takes `media`, `mark` and `clear`, checks each (streamSid, base64) and keeps the
 * app's audio as 8 kHz PCM.
 *
 * The fake's calls use it, and a Node test can use it directly to open a stream anywhere with
 * any parameters or headers (forged or replayed tokens) and see whether the app accepted it.
 */
import { createRequire } from "node:module";
import type { RawData, WebSocket as WsSocket } from "ws";
import { MediaClock } from "./media-clock.ts";
import { decodeMulawToPcm16le, type Tone } from "./mulaw.ts";
import { Playback } from "./playback.ts";
import { newSid } from "./rest.ts";
import type { StreamRecord } from "./scenario.ts";
import { twilioSignature } from "./signature.ts";
import { readAppMessage, TwilioMessages, type TwilioStreamMessage } from "./stream-protocol.ts";

// Loaded through require: vitest's module runner would otherwise pick ws's browser stub.
const { WebSocket } = createRequire(import.meta.url)("ws") as typeof import("ws");

export interface MediaPeerOptions {
  /** ws:// or wss:// (real Twilio accepts only wss://). */
  url: string;
  accountSid: string;
  callSid: string;
  /** Handed to the app in `start.customParameters`, as `<Parameter>`s are. */
  customParameters?: Record<string, string>;
  /** When given, the upgrade carries `X-Twilio-Signature` signed with it, as Twilio's does. */
  authToken?: string;
  /** Extra upgrade headers; an `X-Twilio-Signature` here replaces the computed one. */
  headers?: Record<string, string>;
  /** @default "MZ" + 32 random hex digits */
  streamSid?: string;
  /** Send μ-law silence every 20 ms while the human is quiet, as a phone line does. @default true */
  silence?: boolean;
  /** How long the app must keep the socket open after `start` to count as accepted. @default 300 */
  acceptAfterMs?: number;
  /** Once the stream is over: `closedBy` is null when it never opened. */
  onEnd?: (closedBy: "app" | "fake" | null) => void;
  /** Every `media` message sent or received, timed on this process's clock (benchmarks). */
  onMediaFrame?: (frame: MediaFrameEvent) => void;
}

/**
 * One `media` message on a stream: `to_app` is the human's frame just sent, `from_app` one of
 * the app's just arrived (before it is checked). `index` counts each direction from 0; `at` is
 * `performance.now()`.
 */
export interface MediaFrameEvent {
  callSid: string;
  streamSid: string;
  direction: "to_app" | "from_app";
  index: number;
  at: number;
}

export type StreamOutcome =
  | { accepted: true }
  | {
      accepted: false;
      upgradeStatus: number | null;
      closeCode: number | null;
      closeReason: string | null;
      errors: string[];
    };

export class MediaPeer {
  readonly streamSid: string;
  readonly url: string;
  readonly #options: MediaPeerOptions;
  readonly #record: Omit<StreamRecord, "received" | "receivedMs" | "droppedMs">;
  readonly #playback: Playback;
  readonly #clock: MediaClock;
  readonly #messages: TwilioMessages;
  #ws: WsSocket | null = null;
  #connecting = false;
  #opened = false;
  /** The fake started the close (a hang-up, or `close()`), not the app. */
  #closing = false;
  #acceptTimer: ReturnType<typeof setTimeout> | undefined;
  #settle: (outcome: StreamOutcome) => void = () => {};
  readonly #outcome = new Promise<StreamOutcome>((resolve) => {
    this.#settle = resolve;
  });
  #markEnded: () => void = () => {};
  /** Resolves once the socket is closed, or never opened. */
  readonly ended = new Promise<void>((resolve) => {
    this.#markEnded = resolve;
  });

  /** Connects and, once the socket is open, sends `connected` and `start`. */
  static async open(options: MediaPeerOptions): Promise<MediaPeer> {
    const peer = new MediaPeer(options);
    await peer.connect();
    return peer;
  }

  constructor(options: MediaPeerOptions) {
    this.#options = options;
    this.url = options.url;
    this.streamSid = options.streamSid ?? newSid("MZ");
    const { accountSid, callSid } = options;
    this.#messages = new TwilioMessages({ accountSid, callSid, streamSid: this.streamSid });
    this.#playback = new Playback((name) => this.#echoMark(name));
    this.#clock = new MediaClock({
      silence: options.silence !== false,
      emit: (frame, timestamp) => this.#sendMedia(frame, timestamp),
    });
    this.#record = {
      url: options.url,
      streamSid: this.streamSid,
      customParameters: { ...options.customParameters },
      accepted: false,
      upgradeStatus: null,
      closedBy: null,
      closeCode: null,
      closeReason: null,
      framesSent: 0,
      framesReceived: 0,
      marksReceived: [],
      marksEchoed: [],
      clears: 0,
      dtmfSent: [],
      errors: [],
    };
  }

  get isOpen(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  /** Accepted (open past the grace after `start`), or refused/closed, whichever comes first. */
  outcome(): Promise<StreamOutcome> {
    return this.#outcome;
  }

  record(): StreamRecord {
    return {
      ...structuredClone(this.#record),
      received: this.#playback.received.toString("base64"),
      receivedMs: Math.round(this.#playback.receivedMs),
      droppedMs: Math.round(this.#playback.droppedMs),
    };
  }

  /** The human speaks: resolves once the tone's last frame is sent. */
  tone(tone: Tone): Promise<void> {
    if (!this.isOpen) {
      this.#error("tone on a stream that is not open");
      return Promise.resolve();
    }
    return this.#clock.tone(tone);
  }

  /** One `dtmf` message per key. */
  dtmf(digits: string): void {
    for (const digit of digits) {
      if (this.#send((m) => m.dtmf(digit))) this.#record.dtmfSent.push(digit);
    }
  }

  /** The call ended: `stop`, then the fake closes the socket. */
  async stop(): Promise<void> {
    this.#send((m) => m.stop());
    await this.close(1000);
  }

  /** Closes without `stop` (a dropped stream); terminates if the app does not answer the close. */
  async close(code = 1000, reason = ""): Promise<void> {
    this.#closing = true;
    const ws = this.#ws;
    if (ws?.readyState === WebSocket.CONNECTING) ws.terminate();
    else if (ws?.readyState === WebSocket.OPEN) {
      ws.close(code, reason);
      const timer = setTimeout(() => ws.terminate(), 1000);
      await this.ended;
      clearTimeout(timer);
    }
    await this.ended;
  }

  /** The connection is lost: no `stop` and no closing handshake, the socket just gone. */
  async drop(): Promise<void> {
    this.#closing = true;
    this.#ws?.terminate();
    await this.ended;
  }

  /** Resolves once the socket is open (and `start` sent) or the connection has failed. */
  connect(): Promise<void> {
    if (this.#connecting) throw new Error("MediaPeer.connect() called twice");
    this.#connecting = true;
    const { url, authToken, headers } = this.#options;
    if (!/^wss?:\/\//.test(url)) {
      this.#error(`31922 Stream - WebSocket - URL Schema Not Supported: ${url}`);
      this.#end(null);
      return Promise.resolve();
    }
    const forged = Object.keys(headers ?? {}).some((h) => h.toLowerCase() === "x-twilio-signature");
    const signature =
      authToken && !forged ? { "X-Twilio-Signature": twilioSignature(authToken, url) } : {};
    let ws: WsSocket;
    try {
      ws = new WebSocket(url, { headers: { ...signature, ...headers }, handshakeTimeout: 10_000 });
    } catch (error) {
      this.#error(`31923 Stream - WebSocket - Malformed URL: ${String(error)}`);
      this.#end(null);
      return Promise.resolve();
    }
    this.#ws = ws;
    return new Promise((resolve) => {
      ws.on("unexpected-response", (_request, response) => {
        this.#record.upgradeStatus = response.statusCode ?? null;
        this.#error(`31920 Stream - WebSocket - Handshake Error: HTTP ${response.statusCode}`);
        response.resume();
        ws.terminate();
      });
      ws.on("error", (error: NodeJS.ErrnoException) => {
        if (this.#record.upgradeStatus !== null || this.#opened) return;
        const refused = error.code === "ECONNREFUSED";
        this.#error(
          `${refused ? "31902 Connection Refused" : "31920 Handshake Error"}: ${error.message}`,
        );
      });
      ws.on("open", () => {
        this.#onOpen();
        resolve();
      });
      ws.on("message", (data, isBinary) => this.#onMessage(data, isBinary));
      ws.on("close", (code, reason) => {
        if (this.#opened) {
          this.#record.closedBy = this.#closing ? "fake" : "app";
          this.#record.closeCode = code;
          this.#record.closeReason = reason.toString();
        }
        this.#end(this.#record.closedBy);
        resolve();
      });
    });
  }

  #onOpen(): void {
    this.#opened = true;
    this.#send((m) => m.connected());
    this.#send((m) => m.start(this.#record.customParameters));
    this.#clock.start();
    this.#acceptTimer = setTimeout(() => {
      if (!this.isOpen) return;
      this.#record.accepted = true;
      this.#settle({ accepted: true });
    }, this.#options.acceptAfterMs ?? 300);
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    const at = performance.now();
    const message = readAppMessage(data, isBinary, this.streamSid);
    if (typeof message === "string") {
      this.#error(message);
    } else if (message.event === "media") {
      this.#frameEvent("from_app", this.#record.framesReceived, at);
      this.#record.framesReceived += 1;
      this.#playback.audio(decodeMulawToPcm16le(Buffer.from(message.media.payload, "base64")));
    } else if (message.event === "mark") {
      this.#record.marksReceived.push(message.mark.name);
      this.#playback.mark(message.mark.name);
    } else {
      this.#record.clears += 1;
      this.#playback.clear();
    }
  }

  #echoMark(name: string): void {
    if (this.#send((m) => m.mark(name))) this.#record.marksEchoed.push(name);
  }

  #sendMedia(frame: Uint8Array, timestampMs: number): boolean {
    const sent = this.#send((m) => m.media(frame, timestampMs));
    if (sent) {
      this.#frameEvent("to_app", this.#record.framesSent, performance.now());
      this.#record.framesSent += 1;
    }
    return sent;
  }

  #frameEvent(direction: MediaFrameEvent["direction"], index: number, at: number): void {
    const { onMediaFrame, callSid } = this.#options;
    onMediaFrame?.({ callSid, streamSid: this.streamSid, direction, index, at });
  }

  /** Builds (and so numbers) a message only when it can go out. */
  #send(build: (messages: TwilioMessages) => TwilioStreamMessage): boolean {
    if (!this.isOpen || !this.#ws) return false;
    this.#ws.send(JSON.stringify(build(this.#messages)));
    return true;
  }

  #error(message: string): void {
    this.#record.errors.push(message);
  }

  #end(closedBy: "app" | "fake" | null): void {
    clearTimeout(this.#acceptTimer);
    this.#clock.stop();
    this.#playback.dispose();
    const { upgradeStatus, closeCode, closeReason, errors } = this.#record;
    this.#settle({ accepted: false, upgradeStatus, closeCode, closeReason, errors: [...errors] });
    this.#markEnded();
    this.#options.onEnd?.(closedBy);
    this.#options.onEnd = undefined;
  }
}
