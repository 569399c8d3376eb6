/**
 * The caller's WebSockets on one CallSession: what each remembers across hibernation, and
 * sending to one of them or to every signed-in one (a caller may be on a second tab, briefly,
 * while an older connection is replaced).
 */
import type { ErrorCode, ServerMessage } from "../protocol/messages.ts";

/** What each socket remembers across hibernation (`serializeAttachment`). */
export interface SocketAttachment {
  signedIn: boolean;
  clientIp: string;
  expect: "sign_in" | "resume";
  audioNoticeSent: boolean;
}

export class CallerSockets {
  readonly #ctx: DurableObjectState;

  constructor(ctx: DurableObjectState) {
    this.#ctx = ctx;
  }

  attachment(ws: WebSocket): SocketAttachment {
    return ws.deserializeAttachment() as SocketAttachment;
  }

  attach(ws: WebSocket, attachment: SocketAttachment) {
    ws.serializeAttachment(attachment);
  }

  connected(): WebSocket[] {
    return this.#ctx.getWebSockets().filter((s) => s.readyState === WebSocket.OPEN);
  }

  signedIn(): WebSocket[] {
    return this.connected().filter((ws) => this.attachment(ws).signedIn);
  }

  send(ws: WebSocket, message: ServerMessage) {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify(message));
  }

  /** To the caller, on whichever connection they are signed in. */
  broadcast(message: ServerMessage) {
    for (const ws of this.signedIn()) this.send(ws, message);
  }

  /** Assistant audio, to every signed-in connection. */
  sendFrame(frame: Uint8Array) {
    for (const ws of this.signedIn()) ws.send(frame);
  }

  error(ws: WebSocket, code: ErrorCode, message: string) {
    this.send(ws, { type: "error", code, message, fatal: false });
  }

  notSignedIn(ws: WebSocket) {
    this.error(ws, "not_signed_in", "Please sign in with your PIN first.");
  }
}
