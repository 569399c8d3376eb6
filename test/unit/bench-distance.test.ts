import { connect, createServer, type Server, type Socket } from "node:net";
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

/** An echo server on a port of its own: what it reads it writes back, and its end too. */
async function startEcho(): Promise<number> {
  echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo?.listen(0, "127.0.0.1", resolve));
  const address = echo.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function connectTo(url: string): Promise<Socket> {
  const socket = connect(Number(new URL(url).port), "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  return socket;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the bench's distance relay (--distance)", () => {
  it("gives the target's URL back with its own address, written as the target was", async () => {
    const port = await startEcho();
    for (const [target, path] of [
      [`http://127.0.0.1:${port}`, ""],
      [`http://127.0.0.1:${port}/`, "/"],
      [`ws://127.0.0.1:${port}/v1/listen?x=1`, "/v1/listen?x=1"],
    ] as const) {
      const late = await startDelayRelay(target, ONE_WAY_MS);
      const [scheme] = target.split("//");
      expect(late.url).toMatch(
        new RegExp(`^${scheme}//127\\.0\\.0\\.1:\\d+${path.replace("?", "\\?")}$`),
      );
      expect(late.url).not.toBe(target);
      await late.close();
    }
    await expect(startDelayRelay("http://localhost/", ONE_WAY_MS)).rejects.toThrow(/port/);
  });

  it("holds every byte the one-way time each way, and keeps their order", async () => {
    relay = await startDelayRelay(`http://127.0.0.1:${await startEcho()}`, ONE_WAY_MS);
    const socket = await connectTo(relay.url);
    const arrived: { text: string; at: number }[] = [];
    socket.on("data", (chunk) => arrived.push({ text: chunk.toString(), at: performance.now() }));
    const sent: number[] = [];
    for (const part of ["a", "b", "c"]) {
      sent.push(performance.now());
      socket.write(part);
      await sleep(5);
    }
    await sleep(3 * ONE_WAY_MS);
    socket.destroy();
    expect(arrived.map((a) => a.text).join("")).toBe("abc");
    // Each part came back no sooner than a round trip after it was sent (timers never fire
    // early, to the millisecond Node rounds them to).
    arrived.forEach((a, i) => {
      const sentAt = sent["abc".indexOf(a.text[0] ?? "")] ?? Number.NaN;
      expect(a.at - sentAt, `part ${i}`).toBeGreaterThanOrEqual(2 * ONE_WAY_MS - 2);
    });
  });

  it("passes an end on after the bytes before it, both ways", async () => {
    relay = await startDelayRelay(`http://127.0.0.1:${await startEcho()}`, ONE_WAY_MS);
    const socket = await connectTo(relay.url);
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString();
    });
    const ended = new Promise((resolve) => socket.once("end", resolve));
    socket.end("last words");
    await ended;
    expect(received).toBe("last words");
  });

  it("closes the caller's side when the target cannot be reached", async () => {
    const port = await startEcho();
    await new Promise((resolve) => echo?.close(resolve));
    echo = undefined;
    relay = await startDelayRelay(`http://127.0.0.1:${port}`, ONE_WAY_MS);
    const socket = await connectTo(relay.url);
    socket.on("error", () => {});
    await new Promise((resolve) => socket.once("close", resolve));
    expect(socket.destroyed).toBe(true);
  });
});
