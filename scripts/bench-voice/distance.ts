/**
 * `npm run bench -- --distance MS --placement providers|caller`: the caller far from the
 * providers, the session object at one end or the other (worker/config.ts
 * `sessionLocationHint`). A relay holds every chunk of a TCP stream, each way, for the one-way
 * time of the path, between the pages and the app (the session near the providers) or between
 * the app and the fake providers (the session near the caller).
 *
 * Written by hand: what the bench needs is a fixed one-way delay on a few local streams, which a
 * dozen lines of `node:net` give. The tools that do more (Linux `tc netem`, toxiproxy) would have
 * to be installed, and netem on loopback delays every socket of the machine, the fakes' control
 * calls and the bench's own included.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export type Placement = "providers" | "caller";

export interface DelayRelay {
  /** `target` with the relay's host and port in place of its own. */
  url: string;
  close(): Promise<void>;
}

/** Relays connections to `target` (an http or ws URL on this machine), each byte `oneWayMs` late, each way. */
export async function startDelayRelay(target: string, oneWayMs: number): Promise<DelayRelay> {
  const to = new URL(target);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(to.port), to.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on("close", () => sockets.delete(socket));
    }
    pipeLate(client, upstream, oneWayMs);
    pipeLate(upstream, client, oneWayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("the delay relay has no port");
  return {
    url: target.replace(to.host, `127.0.0.1:${address.port}`),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * `from`'s bytes written to `to` `delayMs` after they arrived, in order (timers of one delay fire
 * in the order they were set); its end or failure passed on as late.
 */
function pipeLate(from: Socket, to: Socket, delayMs: number) {
  from.on("data", (chunk) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, delayMs);
  });
  from.on("end", () => setTimeout(() => to.end(), delayMs));
  from.on("close", (hadError) => {
    if (hadError) setTimeout(() => to.destroy(), delayMs);
  });
  from.on("error", () => {});
}
