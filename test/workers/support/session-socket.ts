/**
 * A caller's WebSocket as the tests see it: connect through the Worker's own fetch handler,
 * then read server messages in order, each parsed with the real protocol schema.
 */
import { env, exports } from "cloudflare:workers";
import type { ServerMessage } from "../../../protocol/messages.ts";
import { ServerMessages } from "../../support/server-messages.ts";

let ipCounter = 0;
/** A client address no other test uses, so the per-IP throttle is each test's own. */
export function uniqueIp(): string {
  ipCounter += 1;
  return `198.51.${Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 1}.${crypto.randomUUID().slice(0, 4)}`;
}

export class SessionSocket extends ServerMessages {
  readonly ws: WebSocket;
  /** Binary frames received (assistant audio), in order. */
  readonly audio: Uint8Array[] = [];

  constructor(ws: WebSocket) {
    super(ws, (data) => this.audio.push(new Uint8Array(data)));
    this.ws = ws;
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

  /** The next message from the server, whatever its type. */
  nextAny(timeoutMs = 10_000): Promise<ServerMessage> {
    return this.take(timeoutMs);
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

/** The call's session object, for a test to look inside (runInDurableObject) or evict. */
export function stubFor(sessionId: string) {
  return env.CALL_SESSION.get(env.CALL_SESSION.idFromString(sessionId));
}
