/**
 * Stand-ins for the app in the fake Twilio's own tests: an HTTP endpoint that takes status
 * callbacks, and a WebSocket server that takes Media Streams. Each listens on a port of its own.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo, Socket } from "node:net";
import type { WebSocket as WsSocket } from "ws";
import { z } from "zod";

// Loaded through require: vitest's module runner would otherwise pick ws's browser stub.
const { WebSocketServer } = createRequire(import.meta.url)("ws") as typeof import("ws");

export interface ReceivedCallback {
  /** The full URL as the app sees it (Twilio signs this). */
  url: string;
  method: string;
  headers: IncomingHttpHeaders;
  params: Record<string, string>;
  /** performance.now() on arrival. */
  at: number;
}

/** Answers each request with `answer(params)`: a status, or a status and a TwiML body. */
export async function startCallbackApp(
  answer: (params: Record<string, string>, path: string) => number | { twiml: string },
) {
  const received: ReceivedCallback[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
    const url = `http://127.0.0.1:${port}${req.url ?? "/"}`;
    const at = performance.now();
    received.push({ url, method: req.method ?? "", headers: req.headers, params, at });
    const answered = answer(params, req.url ?? "/");
    if (typeof answered === "number") res.writeHead(answered).end();
    else res.writeHead(200, { "content-type": "text/xml" }).end(answered.twiml);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const TwilioMessageSchema = z.looseObject({
  event: z.string(),
  sequenceNumber: z.string().optional(),
  streamSid: z.string().optional(),
  media: z
    .object({ track: z.string(), chunk: z.string(), timestamp: z.string(), payload: z.string() })
    .optional(),
  mark: z.object({ name: z.string() }).optional(),
});
export type TwilioMessage = z.infer<typeof TwilioMessageSchema>;

/** One Media Stream the stand-in app accepted. */
export class AppSocket {
  readonly messages: { message: TwilioMessage; at: number }[] = [];
  readonly request: IncomingMessage;
  readonly ws: WsSocket;
  #waiters: (() => void)[] = [];

  constructor(ws: WsSocket, request: IncomingMessage) {
    this.ws = ws;
    this.request = request;
    ws.on("message", (data) => {
      this.messages.push({
        message: TwilioMessageSchema.parse(JSON.parse(data.toString())),
        at: performance.now(),
      });
      for (const wake of this.#waiters.splice(0)) wake();
    });
    ws.on("close", () => {
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  events(event: string): TwilioMessage[] {
    return this.messages.filter((m) => m.message.event === event).map((m) => m.message);
  }

  /** Waits until `count` messages of `event` have come. */
  async waitFor(event: string, count = 1, timeoutMs = 3000): Promise<TwilioMessage[]> {
    const deadline = performance.now() + timeoutMs;
    while (this.events(event).length < count) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`waited ${timeoutMs} ms for ${count} "${event}" messages`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.events(event);
  }

  send(message: object): void {
    this.ws.send(JSON.stringify(message));
  }
}

/**
 * A WebSocket server standing in for the app's Media Stream endpoint. `checkUpgrade` may refuse
 * the handshake with an HTTP status; `onStream` sees every accepted socket.
 */
export async function startStreamApp(
  options: { checkUpgrade?: (req: IncomingMessage) => number | null } = {},
) {
  const sockets: AppSocket[] = [];
  let wake: (() => void) | undefined;
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((_req, res) => res.writeHead(426).end());
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const refused = options.checkUpgrade?.(req);
    if (refused) {
      socket.end(`HTTP/1.1 ${refused} Refused\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.push(new AppSocket(ws, req));
      wake?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    sockets,
    /** The next (or an already) accepted socket. */
    async socket(index = 0, timeoutMs = 3000): Promise<AppSocket> {
      const deadline = performance.now() + timeoutMs;
      for (let found = sockets[index]; ; found = sockets[index]) {
        if (found) return found;
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`no stream #${index} reached the app in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
