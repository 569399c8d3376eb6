/**
 * `npm run bench -- --distance MS --placement providers|caller`: the caller far from the
 * providers, the session object at one end or the other (worker/config.ts
 * `sessionLocationHint` says why it matters). A relay holds every chunk of a TCP stream, each
 * way, for the one-way time of the path: between the pages and the app (the session near the
 * providers), or between the app and the fake providers (the session near the caller).
 *
 * Written by hand: what the bench needs is a fixed one-way delay on a few local streams, which a
 * few lines of `node:net` give. The tools that do more (Linux `tc netem`, toxiproxy) would have
 * to be installed, and netem on loopback delays every socket of the machine, the fakes' control
 * calls and the bench's own included.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export type Placement = "providers" | "caller";

export interface DelayRelay {
  /** `target` with the relay's address in place of its own. */
  url: string;
  close(): Promise<void>;
}

/**
 * Relays connections to `target` (an http or ws URL with an explicit port on this machine), each
 * byte `oneWayMs` late, each way.
 */
export async function startDelayRelay(target: string, oneWayMs: number): Promise<DelayRelay> {
  const to = new URL(target);
  const at = target.indexOf(to.host);
  if (to.port === "" || at < 0)
    throw new Error(`the delay relay needs a target with its port written out, not ${target}`);
  const sockets = new Set<Socket>();
  // Half-open allowed: one side's end is passed on late, after the bytes before it.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ port: Number(to.port), host: to.hostname, allowHalfOpen: true });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on("close", () => sockets.delete(socket));
    }
    let open = 2;
    const ended = () => {
      open -= 1;
      if (open === 0) {
        client.destroy();
        upstream.destroy();
      }
    };
    pipeLate(client, upstream, oneWayMs, ended);
    pipeLate(upstream, client, oneWayMs, ended);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("the delay relay has no port");
  return {
    url: `${target.slice(0, at)}127.0.0.1:${address.port}${target.slice(at + to.host.length)}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * `from`'s bytes written to `to` `delayMs` after they arrived, in order (timers of one delay fire
 * in the order they were set); its end passed on as late, then `ended()`. A failure on either
 * side ends both at once, as a reset does.
 */
function pipeLate(from: Socket, to: Socket, delayMs: number, ended: () => void) {
  from.on("data", (chunk) => {
    setTimeout(() => {
      if (to.writable) to.write(chunk);
    }, delayMs);
  });
  from.on("end", () =>
    setTimeout(() => {
      if (to.writable) to.end();
      ended();
    }, delayMs),
  );
  from.on("error", () => {
    from.destroy();
    to.destroy();
  });
}
