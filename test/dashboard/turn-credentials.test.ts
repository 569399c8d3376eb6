/**
 * The TURN credentials the dashboard API gives each signed-in agent (worker/dashboard/
 * turn-credentials.ts), checked by a real TURN server: coturn with `use-auth-secret`, as an
 * operator runs it beside the PBX. `turnutils_uclient` allocates a relay with them and sends
 * through it; wrong or expired ones are refused.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/app-process.ts";
import { turnServer } from "../../worker/dashboard/turn-credentials.ts";

const TURNSERVER = "/usr/bin/turnserver";
const SECRET = "turn-test-secret-0123456789";
const missing = !existsSync(TURNSERVER);
if (missing) console.warn(`coturn not found at ${TURNSERVER}: install Debian's coturn to run it.`);

describe.skipIf(missing)("TURN credentials against coturn", () => {
  const dir = mkdtempSync(join(tmpdir(), "convonet-turn-"));
  let port = 0;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    port = await freePort();
    const started = spawn(TURNSERVER, [
      "-n",
      "--listening-ip=127.0.0.1",
      "--relay-ip=127.0.0.1",
      `--listening-port=${port}`,
      "--use-auth-secret",
      `--static-auth-secret=${SECRET}`,
      "--realm=convonet.test",
      "--no-tls",
      "--no-dtls",
      "--no-cli",
      // The test's client relays to itself on the loopback interface.
      "--allow-loopback-peers",
      `--pidfile=${join(dir, "turnserver.pid")}`,
      `--db=${join(dir, "turndb")}`,
      "--log-file=stdout",
      "--simple-log",
    ]);
    server = started;
    // Ready once its relay servers are up (it says how many).
    await new Promise<void>((resolve, reject) => {
      let log = "";
      const timer = setTimeout(() => reject(new Error(`coturn did not start:\n${log}`)), 10_000);
      started.stdout?.on("data", (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes("Total General servers")) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.on("exit", (code) => reject(new Error(`coturn exited (${code}):\n${log}`)));
    });
  }, 20_000);

  afterAll(() => {
    server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Allocates a relay on the server and sends a few messages through it: exit code 0 if done. */
  function relayWith(username: string, password: string): Promise<number> {
    return new Promise((resolve) => {
      execFile(
        "turnutils_uclient",
        ["-p", String(port), "-u", username, "-w", password, "-y", "-n", "2", "127.0.0.1"],
        { timeout: 10_000 },
        (error) => resolve(error ? (typeof error.code === "number" ? error.code : -1) : 0),
      );
    });
  }

  it("relays with an agent's credentials, and refuses a wrong password or an expired sign-in", async () => {
    const url = `turn:127.0.0.1:${port}`;
    const valid = await turnServer([url], SECRET, "agent.one", new Date(Date.now() + 3_600_000));
    expect(valid).toMatchObject({
      urls: [url],
      username: expect.stringMatching(/^\d+:agent\.one$/),
    });
    expect(await relayWith(valid.username ?? "", valid.credential ?? "")).toBe(0);

    expect(await relayWith(valid.username ?? "", "not-the-password")).not.toBe(0);
    const otherSecret = await turnServer(
      [url],
      "another-secret-0123456789",
      "agent.one",
      new Date(Date.now() + 3_600_000),
    );
    expect(await relayWith(otherSecret.username ?? "", otherSecret.credential ?? "")).not.toBe(0);
    const expired = await turnServer([url], SECRET, "agent.one", new Date(Date.now() - 60_000));
    expect(await relayWith(expired.username ?? "", expired.credential ?? "")).not.toBe(0);
  });
});
