/**
 * The server's messages on a caller's WebSocket, as tests read them: each text frame parsed
 * with the real protocol schema (an invalid one fails the test) and read in order, binary frames
 * handed on, the close kept. The standard WebSocket API only, so the same reader serves the
 * Node callers (node-caller.ts) and the ones inside the Workers test pool
 * (workers/support/session-socket.ts).
 */
import {
  parseServerMessage,
  type ServerMessage,
  type ServerMessageOf,
} from "../../protocol/messages.ts";

export class ServerMessages {
  readonly #queue: ServerMessage[] = [];
  #wake: (() => void) | undefined;
  closed: { code: number; reason: string } | undefined;
  /** Every message, in arrival order (reading consumes the queue, not this). */
  readonly log: ServerMessage[] = [];
  /** Every message's type, and "audio" for a binary frame, in arrival order. */
  readonly events: string[] = [];

  /** `onBinary`: each binary frame (audio), as it arrives. */
  constructor(ws: WebSocket, onBinary: (data: ArrayBuffer) => void) {
    // Binary frames arrive as Blob otherwise.
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event) => {
      if (event.data instanceof ArrayBuffer) {
        this.events.push("audio");
        // Not returned: a listener's return value is ignored, and workerd warns of one.
        onBinary(event.data);
        return;
      }
      const parsed = parseServerMessage(String(event.data));
      if (!parsed.ok) throw new Error(`server sent an invalid message: ${String(event.data)}`);
      this.#queue.push(parsed.message);
      this.log.push(parsed.message);
      this.events.push(parsed.message.type);
      this.#wake?.();
    });
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.#wake?.();
    });
  }

  /** The next message, whatever its type. */
  async take(timeoutMs = 10_000, waitingFor = "a server message"): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      if (this.closed)
        throw new Error(`socket closed (${this.closed.code}) waiting for ${waitingFor}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.log.slice(-8).map((m) => m.type);
        throw new Error(`timed out waiting for ${waitingFor}; last seen: ${seen.join(", ")}`);
      }
      await this.#sleep(left);
    }
    const message = this.#queue.shift();
    if (!message) throw new Error("unreachable: empty queue");
    return message;
  }

  /** The next message, which must be of `type`. */
  async next<T extends ServerMessage["type"]>(
    type: T,
    timeoutMs = 10_000,
  ): Promise<ServerMessageOf<T>> {
    const message = await this.take(timeoutMs, type);
    if (message.type !== type) throw new Error(`expected ${type}, got ${JSON.stringify(message)}`);
    return message as ServerMessageOf<T>;
  }

  /** Skips messages until one of `type` that satisfies `predicate` arrives. */
  async until<T extends ServerMessage["type"]>(
    type: T,
    predicate: (message: ServerMessageOf<T>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<ServerMessageOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.take(Math.max(1, deadline - Date.now()), type);
      if (message.type === type && predicate(message as ServerMessageOf<T>)) {
        return message as ServerMessageOf<T>;
      }
    }
  }

  /** Resolves with the close code once the server has closed the socket. */
  async waitForClose(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("socket did not close");
      await this.#sleep(left);
    }
    return this.closed.code;
  }

  /** Until a message or the close arrives, or `ms` pass. */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}
