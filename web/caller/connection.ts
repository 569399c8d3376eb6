/**
 * The page's session socket: opens /ws, validates every server message, keeps the session's
 * resume token (rotated by the server on every resume) in sessionStorage, and reconnects with
 * backoff when the connection drops, resuming the same session.
 */
import {
  type ClientMessage,
  parseServerMessage,
  type ServerMessage,
} from "../../protocol/messages.ts";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

interface StoredSession {
  sessionId: string;
  token: string;
}

const STORAGE_KEY = "convonet.session";
/** Close codes after which reconnecting cannot help. */
const FINAL_CLOSE_CODES = new Set([1000, 4001, 4003, 4004, 4008]);
const BACKOFF_MS = [250, 1_000, 2_000, 4_000, 8_000];
const KEEPALIVE_MS = 25_000;

export interface ConnectionEvents {
  onMessage(message: ServerMessage): void;
  /** A binary frame: assistant audio. */
  onBinary(frame: Uint8Array): void;
  onState(state: ConnectionState): void;
}

export class SessionConnection {
  #ws: WebSocket | undefined;
  #attempt = 0;
  #stopped = false;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  readonly #events: ConnectionEvents;

  constructor(events: ConnectionEvents) {
    this.#events = events;
  }

  /** A session this tab can resume, if any. */
  get stored(): StoredSession | undefined {
    try {
      const raw = sessionStorage.getItem(STORAGE_KEY);
      if (!raw) return undefined;
      const value: unknown = JSON.parse(raw);
      if (
        typeof value === "object" &&
        value !== null &&
        "sessionId" in value &&
        "token" in value &&
        typeof value.sessionId === "string" &&
        typeof value.token === "string"
      ) {
        return { sessionId: value.sessionId, token: value.token };
      }
    } catch {
      // unreadable: treat as none
    }
    return undefined;
  }

  remember(sessionId: string, token: string) {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ sessionId, token }));
  }

  forget() {
    sessionStorage.removeItem(STORAGE_KEY);
  }

  connect() {
    this.#stopped = false;
    this.#open();
  }

  send(message: ClientMessage) {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(message));
  }

  sendBinary(frame: Uint8Array<ArrayBuffer>) {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(frame);
  }

  /** Closes for good (after a hang-up or a final server close). */
  stop() {
    this.#stopped = true;
    clearInterval(this.#keepalive);
    this.#ws?.close(1000, "bye");
  }

  #open() {
    const stored = this.stored;
    const url = new URL("/ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (stored) url.searchParams.set("session", stored.sessionId);
    this.#events.onState(this.#attempt === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    ws.addEventListener("open", () => {
      this.#attempt = 0;
      this.#events.onState("connected");
      clearInterval(this.#keepalive);
      this.#keepalive = setInterval(() => this.send({ type: "ping", t: Date.now() }), KEEPALIVE_MS);
    });
    ws.addEventListener("message", (event) => {
      if (event.data instanceof ArrayBuffer)
        return this.#events.onBinary(new Uint8Array(event.data));
      if (typeof event.data !== "string") return;
      const parsed = parseServerMessage(event.data);
      if (!parsed.ok) {
        console.warn("[convonet] ignored a server message:", parsed.message);
        return;
      }
      const message = parsed.message;
      if (message.type === "hello" && message.expect === "resume" && stored) {
        this.send({ type: "resume", token: stored.token });
      }
      if (message.type === "signed_in") this.remember(message.sessionId, message.resumeToken);
      this.#events.onMessage(message);
    });
    ws.addEventListener("close", (event) => {
      clearInterval(this.#keepalive);
      if (ws !== this.#ws) return;
      if (event.code === 4004 || event.code === 4008 || event.code === 4003) this.forget();
      if (this.#stopped || FINAL_CLOSE_CODES.has(event.code)) {
        this.#events.onState("offline");
        return;
      }
      const delay = BACKOFF_MS[Math.min(this.#attempt, BACKOFF_MS.length - 1)] ?? 8_000;
      this.#attempt += 1;
      this.#events.onState("reconnecting");
      setTimeout(() => {
        if (!this.#stopped) this.#open();
      }, delay);
    });
  }
}
