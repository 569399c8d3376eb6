/**
 * The page's session socket: opens /ws, validates every server message, keeps the session's
 * resume token in the call store (stored-call.ts), and reconnects with backoff when the
 * connection drops, resuming the same session. Neither the PIN nor the token is ever logged.
 */
import {
  type ClientMessage,
  parseServerMessage,
  type ServerMessage,
} from "../../protocol/messages.ts";
import type { CallStore } from "./stored-call.ts";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

/** The server's close codes (durable-objects/call-session.ts) after which retrying cannot help. */
export const CLOSE_CODES = {
  normal: 1000,
  replaced: 4001,
  lockedOut: 4003,
  resumeRefused: 4004,
  expired: 4008,
} as const;
const FINAL_CLOSE_CODES = new Set<number>(Object.values(CLOSE_CODES));
/** Codes after which the stored session can never be resumed again. */
const FORGET_CLOSE_CODES = new Set<number>([
  CLOSE_CODES.replaced,
  CLOSE_CODES.lockedOut,
  CLOSE_CODES.resumeRefused,
  CLOSE_CODES.expired,
]);

const BACKOFF_MS = [250, 1_000, 2_000, 4_000, 8_000];
/** Hanging up a call left behind gives up after this long (the server ends it with its window). */
const END_STORED_TIMEOUT_MS = 10_000;
const KEEPALIVE_MS = 25_000;

export interface ConnectionEvents {
  onMessage(message: ServerMessage): void;
  /** A binary frame: assistant audio. */
  onBinary(frame: Uint8Array): void;
  onState(state: ConnectionState): void;
  /** The server closed the socket for good (hang-up, lock-out, refused resume, …). */
  onFinalClose(code: number): void;
}

export class SessionConnection {
  #ws: WebSocket | undefined;
  #attempt = 0;
  #stopped = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  readonly #events: ConnectionEvents;
  readonly #store: CallStore;

  constructor(store: CallStore, events: ConnectionEvents) {
    this.#store = store;
    this.#events = events;
    // Back online: try at once instead of waiting out the backoff.
    addEventListener("online", () => {
      if (!this.#stopped && this.#retryTimer !== undefined) this.#retryNow();
    });
    addEventListener("offline", () => {
      if (this.#ws?.readyState !== WebSocket.OPEN) this.#events.onState("offline");
    });
  }

  forget() {
    this.#store.forget();
  }

  /** Opens the socket: resuming the stored session if there is one, else a new one. */
  connect() {
    this.#stopped = false;
    this.#attempt = 0;
    this.#open();
  }

  /**
   * Hangs up the stored call on the server, on a socket of its own, in the background: the
   * caller chose a new call instead of one left open (a closed tab), whose transfer may still be
   * ringing someone. Call before `restart()`, which forgets it.
   */
  endStored() {
    const stored = this.#store.call;
    if (!stored) return;
    const ws = new WebSocket(socketUrl(stored.sessionId));
    const close = () => {
      clearTimeout(timer);
      ws.close(1000, "bye");
    };
    const timer = setTimeout(close, END_STORED_TIMEOUT_MS);
    ws.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      const parsed = parseServerMessage(event.data);
      if (!parsed.ok) return;
      const message = parsed.message;
      // A session that no longer exists asks for a PIN: nothing left to end.
      if (message.type === "hello" && message.expect === "resume") {
        ws.send(JSON.stringify({ type: "resume", token: stored.token } satisfies ClientMessage));
      } else if (message.type === "signed_in") {
        ws.send(JSON.stringify({ type: "hang_up" } satisfies ClientMessage));
      } else if (message.type === "hello" || message.type === "session_ended") close();
    });
    ws.addEventListener("close", () => clearTimeout(timer));
  }

  /** Drops the stored session and the current socket, and opens a new session. */
  restart() {
    this.forget();
    this.#detach();
    this.connect();
  }

  /** Sends when connected; false when the message could not be sent (nothing is queued). */
  send(message: ClientMessage): boolean {
    if (this.#ws?.readyState !== WebSocket.OPEN) return false;
    this.#ws.send(JSON.stringify(message));
    return true;
  }

  sendBinary(frame: Uint8Array<ArrayBuffer>) {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(frame);
  }

  /** Closes for good (after a hang-up or a final server close). */
  stop() {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    clearInterval(this.#keepalive);
    this.#ws?.close(1000, "bye");
    this.#events.onState("offline");
  }

  /** Forgets the current socket without reacting to its close. */
  #detach() {
    const ws = this.#ws;
    this.#ws = undefined;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    clearInterval(this.#keepalive);
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "bye");
  }

  #open() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#events.onState(this.#attempt === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(socketUrl(this.#store.call?.sessionId));
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.#ws) return;
      this.#attempt = 0;
      this.#events.onState("connected");
      clearInterval(this.#keepalive);
      this.#keepalive = setInterval(() => {
        // Alive: a tab closed from now on may still be picked up for the whole window.
        if (this.send({ type: "ping", t: Date.now() })) this.#store.touch();
      }, KEEPALIVE_MS);
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.#ws) return;
      if (event.data instanceof ArrayBuffer) {
        this.#events.onBinary(new Uint8Array(event.data));
        return;
      }
      if (typeof event.data !== "string") return;
      const parsed = parseServerMessage(event.data);
      if (!parsed.ok) {
        console.warn(`[convonet] ignored a server message (${parsed.code}): ${parsed.message}`);
        return;
      }
      const message = parsed.message;
      if (message.type === "hello" && message.expect === "resume") {
        // The newest token: the server rotated it on the last resume.
        const token = this.#store.call?.token;
        if (token) this.send({ type: "resume", token });
        else ws.close(1000, "nothing to resume");
      }
      if (message.type === "signed_in") {
        this.#store.save(message.sessionId, message.resumeToken, message.resumeWindowSeconds);
      }
      this.#events.onMessage(message);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.#ws) return;
      clearInterval(this.#keepalive);
      if (FORGET_CLOSE_CODES.has(event.code)) this.forget();
      if (this.#stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.#stopped = true;
        this.#events.onState("offline");
        this.#events.onFinalClose(event.code);
        return;
      }
      const delay = BACKOFF_MS[Math.min(this.#attempt, BACKOFF_MS.length - 1)] ?? 8_000;
      this.#attempt += 1;
      this.#events.onState(navigator.onLine ? "reconnecting" : "offline");
      this.#retryTimer = setTimeout(() => this.#retryNow(), delay);
    });
  }

  #retryNow() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (!this.#stopped) this.#open();
  }
}

/** The session socket's address: a new session, or `sessionId` to resume. */
function socketUrl(sessionId: string | undefined): URL {
  const url = new URL("/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  if (sessionId) url.searchParams.set("session", sessionId);
  return url;
}
