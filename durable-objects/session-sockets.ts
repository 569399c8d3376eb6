/**
 * The WebSockets of one CallSession, by role: the caller's page (`caller`; a caller may be on a
 * second tab, briefly, while an older connection is replaced) and Twilio's media stream during a
 * transfer (`media`). Each socket is accepted with its role as a tag and remembers its state in
 * its attachment across hibernation; framing for a destination (the page's audio header) happens
 * here, at the edge that sends.
 */
import { AudioFrameFlag, type AudioFrameKind, encodeAudioFrame } from "../protocol/audio-frame.ts";
import type { ErrorCode, ServerMessage } from "../protocol/messages.ts";

/**
 * How the session closes a caller's socket; the page tells its caller why
 * (web/caller/connection.ts).
 */
export const CLOSE_CODES = {
  hangUp: 1000,
  replaced: 4001,
  lockedOut: 4003,
  resumeRefused: 4004,
  expired: 4008,
} as const;

export type SocketRole = "caller" | "media";

/** What a caller's socket remembers across hibernation (`serializeAttachment`). */
export interface CallerAttachment {
  role: "caller";
  signedIn: boolean;
  clientIp: string;
  expect: "sign_in" | "resume";
  audioNoticeSent: boolean;
  /** The page said it can play audio (`audio_ready`): replies to typed messages are spoken too. */
  audioReady?: boolean;
}

/** Twilio's media stream of one transfer: accepted once its `start` carried the right token. */
export interface MediaAttachment {
  role: "media";
  transferId: string | null;
  streamSid: string | null;
}

export type SocketAttachment = CallerAttachment | MediaAttachment;

export class SessionSockets {
  readonly #ctx: DurableObjectState;
  /**
   * Attachments already read: deserialising one costs more than a 20 ms audio frame's own work,
   * so it happens once per socket per wake-up, not per message.
   */
  readonly #attachments = new WeakMap<WebSocket, SocketAttachment>();
  #signedIn: WebSocket[] | undefined;
  /** Sequence numbers of audio frames to the page, per frame kind. */
  readonly #seq = new Map<AudioFrameKind, number>();

  constructor(ctx: DurableObjectState) {
    this.#ctx = ctx;
  }

  accept(ws: WebSocket, attachment: SocketAttachment) {
    this.#ctx.acceptWebSocket(ws, [attachment.role]);
    this.attach(ws, attachment);
  }

  attachment(ws: WebSocket): SocketAttachment {
    let attachment = this.#attachments.get(ws);
    if (!attachment) {
      attachment = ws.deserializeAttachment() as SocketAttachment;
      this.#attachments.set(ws, attachment);
    }
    return attachment;
  }

  /** The caller's attachment of `ws`, or undefined for a socket of another role. */
  caller(ws: WebSocket): CallerAttachment | undefined {
    const attachment = this.attachment(ws);
    return attachment.role === "caller" ? attachment : undefined;
  }

  attach(ws: WebSocket, attachment: SocketAttachment) {
    this.#attachments.set(ws, attachment);
    ws.serializeAttachment(attachment);
    this.#signedIn = undefined;
  }

  /** The caller's open sockets (never the media stream). */
  callers(): WebSocket[] {
    return this.#ctx.getWebSockets("caller").filter((s) => s.readyState === WebSocket.OPEN);
  }

  /**
   * The caller's open, signed-in sockets. Found once per change of the sockets (a new socket or
   * attachment), not per audio frame or token sent: `getWebSockets` is not free.
   */
  signedIn(): WebSocket[] {
    this.#signedIn ??= this.callers().filter((ws) => this.caller(ws)?.signedIn);
    const open = this.#signedIn.filter((ws) => ws.readyState === WebSocket.OPEN);
    if (open.length !== this.#signedIn.length) this.#signedIn = open;
    return open;
  }

  /** Open media-stream sockets. */
  media(): WebSocket[] {
    return this.#ctx.getWebSockets("media").filter((s) => s.readyState === WebSocket.OPEN);
  }

  send(ws: WebSocket, message: ServerMessage) {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify(message));
  }

  /** To the caller, on whichever connection they are signed in. */
  broadcast(message: ServerMessage) {
    const json = JSON.stringify(message);
    for (const ws of this.signedIn()) ws.send(json);
  }

  /**
   * Audio to every signed-in connection of the caller, framed for the page (kind, flags,
   * sequence). `replyStart` marks the first frame of an assistant reply.
   */
  sendAudio(kind: AudioFrameKind, pcm: Uint8Array, replyStart = false) {
    const seq = this.#seq.get(kind) ?? 0;
    this.#seq.set(kind, (seq + 1) & 0xffff);
    const frame = encodeAudioFrame(kind, seq, pcm, replyStart ? AudioFrameFlag.ReplyStart : 0);
    for (const ws of this.signedIn()) ws.send(frame);
  }

  error(ws: WebSocket, code: ErrorCode, message: string) {
    this.send(ws, { type: "error", code, message, fatal: false });
  }

  notSignedIn(ws: WebSocket) {
    this.error(ws, "not_signed_in", "Please sign in with your PIN first.");
  }
}
