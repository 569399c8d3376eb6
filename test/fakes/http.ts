/**
 * What every provider fake's HTTP server does alike: listen on loopback, keep its clients'
 * connections, read a body, answer JSON, and close with its connections. Fakes import no app
 * code; this is theirs.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Listening {
  url: string;
  port: number;
  /** Closes every connection, then the server. */
  close(): Promise<void>;
}

/** Starts `server` on 127.0.0.1 (`port`, or any free one). */
export async function listenLocal(server: Server, port = 0): Promise<Listening> {
  // Node closes an idle keep-alive connection after 5 s by default; a client reusing it at
  // that moment gets "Network connection lost". The clients here are ours: keep them open.
  server.keepAliveTimeout = 0;
  // A test run (or `npm start`) ends on its own terms; an idle server must not keep it alive.
  server.unref();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
