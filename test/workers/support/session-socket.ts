/**
 * A caller's WebSocket as the tests see it: connect through the Worker's own fetch handler,
 * then read server messages in order, each parsed with the real protocol schema.
 */
import { exports } from "cloudflare:workers";
import {
  parseServerMessage,
  type ServerMessage,
  type ServerMessageOf,
} from "../../../protocol/messages.ts";

let ipCounter = 0;
/** A client address no other test uses, so the per-IP throttle is each test's own. */
export function uniqueIp(): string {
  ipCounter += 1;
  return `198.51.${Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 1}.${crypto.randomUUID().slice(0, 4)}`;
}

export class SessionSocket {
  readonly ws: WebSocket;
  readonly #queue: ServerMessage[] = [];
  #waiter: (() => void) | undefined;
  closed: { code: number; reason: string } | undefined;
  /** Binary frames received (assistant audio), in order. */
  readonly audio: Uint8Array[] = [];
  /** Every message type and "audio" for binary frames, in arrival order. */
  readonly events: string[] = [];

  constructor(ws: WebSocket) {
    this.ws = ws;
    // Binary frames arrive as Blob otherwise.
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event) => {
      if (typeof event.data !== "string") {
        this.audio.push(new Uint8Array(event.data as ArrayBuffer));
        this.events.push("audio");
        return;
      }
      const parsed = parseServerMessage(event.data);
      if (!parsed.ok) throw new Error(`server sent an invalid message: ${event.data}`);
      this.#queue.push(parsed.message);
      this.events.push(parsed.message.type);
      this.#waiter?.();
    });
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.#waiter?.();
    });
  }

  static async open(options: { ip?: string; session?: string } = {}): Promise<SessionSocket> {
    const url = new URL("http://convonet.test/ws");
    if (options.session) url.searchParams.set("session", options.session);
    const res = await exports.default.fetch(url, {
      headers: { upgrade: "websocket", "cf-connecting-ip": options.ip ?? uniqueIp() },
    });
    const ws = res.webSocket;
    if (!ws) throw new Error(`no WebSocket: HTTP ${res.status} ${await res.text()}`);
    ws.accept();
    return new SessionSocket(ws);
  }

  send(message: unknown) {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The next message from the server, which must be of the given type. */
  async next<T extends ServerMessage["type"]>(
    type: T,
    timeoutMs = 10_000,
  ): Promise<ServerMessageOf<T>> {
    const message = await this.#take(timeoutMs);
    if (message.type !== type) {
      throw new Error(`expected ${type}, got ${JSON.stringify(message)}`);
    }
    return message as ServerMessageOf<T>;
  }

  /** The next message from the server, whatever its type. */
  nextAny(timeoutMs = 10_000): Promise<ServerMessage> {
    return this.#take(timeoutMs);
  }

  async #take(timeoutMs: number): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      if (this.closed) throw new Error(`socket closed (${this.closed.code}) with no message`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a server message");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
    const message = this.#queue.shift();
    if (!message) throw new Error("unreachable: empty queue");
    return message;
  }

  /** Resolves with the close code once the server has closed the socket. */
  async waitForClose(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("socket did not close");
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.closed.code;
  }

  close() {
    if (!this.closed) this.ws.close(1000, "test done");
  }
}

/** Opens a session and signs in; returns the socket and the signed_in message. */
export async function signIn(pin: string, ip = uniqueIp()) {
  const socket = await SessionSocket.open({ ip });
  await socket.next("hello");
  socket.send({ type: "sign_in", pin });
  const signedIn = await socket.next("signed_in");
  return { socket, signedIn, ip };
}
