import { connect, createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type DelayRelay, startDelayRelay } from "../../scripts/bench-voice/distance.ts";

const ONE_WAY_MS = 30;
let echo: Server | undefined;
let relay: DelayRelay | undefined;

afterEach(async () => {
  await relay?.close();
  await new Promise((resolve) => (echo ? echo.close(resolve) : resolve(undefined)));
  relay = undefined;
  echo = undefined;
});

/** An echo server on a port of its own, and its address as the app's settings write one. */
async function startEcho(): Promise<string> {
  echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo?.listen(0, "127.0.0.1", resolve));
  const address = echo.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return `http://127.0.0.1:${address.port}/v1`;
}

describe("the bench's distance relay (--distance)", () => {
  it("keeps the target's path, with its own port in place of the target's", async () => {
    const target = await startEcho();
    relay = await startDelayRelay(target, ONE_WAY_MS);
    const url = new URL(relay.url);
    expect(url.pathname).toBe("/v1");
    expect(url.port).not.toBe(new URL(target).port);
  });

  it("holds every byte the one-way time each way, and keeps their order", async () => {
    relay = await startDelayRelay(await startEcho(), ONE_WAY_MS);
    const socket = connect(Number(new URL(relay.url).port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    let received = "";
    const back = new Promise<number>((resolve) =>
      socket.on("data", (chunk) => {
        received += chunk.toString();
        if (received.length === 3) resolve(performance.now());
      }),
    );
    const sentAt = performance.now();
    for (const part of ["a", "b", "c"]) socket.write(part);
    const roundTrip = (await back) - sentAt;
    socket.destroy();
    expect(received).toBe("abc");
    // Timers never fire before their time (to the millisecond Node rounds it to).
    expect(roundTrip).toBeGreaterThanOrEqual(2 * ONE_WAY_MS - 2);
  });
});
