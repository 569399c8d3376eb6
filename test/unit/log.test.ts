import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { describeError, isSecretName, log, logEntry, REDACTED } from "../../worker/log.ts";

describe("log", () => {
  const written: { method: string; args: unknown[] }[] = [];
  beforeEach(() => {
    written.length = 0;
    for (const method of ["log", "warn", "error"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        written.push({ method, args });
      });
    }
  });
  afterEach(() => vi.restoreAllMocks());

  it("writes one plain object per event, with the console method of its level", () => {
    log.info("call-session", "sign_in", { client: "ip4:203.0.113.7" });
    log.warn("call-session", "throttle", { limit: "network" });
    log.error("worker", "unhandled_error", new TypeError("boom"));
    expect(written).toEqual([
      {
        method: "log",
        args: [
          { event: "sign_in", level: "info", scope: "call-session", client: "ip4:203.0.113.7" },
        ],
      },
      {
        method: "warn",
        args: [{ event: "throttle", level: "warn", scope: "call-session", limit: "network" }],
      },
      {
        method: "error",
        args: [
          { event: "unhandled_error", level: "error", scope: "worker", error: "TypeError: boom" },
        ],
      },
    ]);
  });

  it("adds a scoped logger's fields to every line; the event's own fields win", () => {
    const session = log.with({ session: "abc123" }).with({ turn: "t1" });
    session.info("conversation", "turn", { totalMs: 40 });
    session.info("conversation", "turn", { turn: "t3" });
    expect(written.map((w) => w.args[0])).toEqual([
      {
        event: "turn",
        level: "info",
        scope: "conversation",
        session: "abc123",
        turn: "t1",
        totalMs: 40,
      },
      { event: "turn", level: "info", scope: "conversation", session: "abc123", turn: "t3" },
    ]);
  });

  it("never lets a field overwrite the event, level or scope", () => {
    expect(
      logEntry(
        "info",
        "transfer",
        "transfer_state",
        {},
        { event: "x", level: "error", scope: "y" },
      ),
    ).toEqual({
      event: "transfer_state",
      level: "info",
      scope: "transfer",
    });
  });

  it("replaces fields whose names look secret, at any depth", () => {
    const entry = logEntry(
      "info",
      "s",
      "e",
      { pin: "1234" },
      {
        resumeToken: "tok",
        pinHash: "deadbeef",
        apiKey: "sk-ant-1",
        "x-api-key": "k",
        authorization: "Bearer b",
        TWILIO_AUTH_TOKEN: "t",
        password: "p",
        nested: { secret: "s", ok: 1, deeper: [{ token: "t2" }] },
        tokens: 12,
        turn: "t1",
      },
    );
    expect(entry).toEqual({
      event: "e",
      level: "info",
      scope: "s",
      pin: REDACTED,
      resumeToken: REDACTED,
      pinHash: REDACTED,
      apiKey: REDACTED,
      "x-api-key": REDACTED,
      authorization: REDACTED,
      TWILIO_AUTH_TOKEN: REDACTED,
      password: REDACTED,
      nested: { secret: REDACTED, ok: 1, deeper: [{ token: REDACTED }] },
      tokens: 12,
      turn: "t1",
    });
  });

  it("tells secret names by whole words", () => {
    for (const name of ["pin", "PIN", "failed_pins", "mediaToken", "api_key", "cookie"])
      expect(isSecretName(name), name).toBe(true);
    for (const name of ["tokens", "keyboard", "spinner", "session", "turn", "client"])
      expect(isSecretName(name), name).toBe(false);
  });

  it("leaves out requests, bodies, binary data and functions; cuts long strings", () => {
    const entry = logEntry(
      "info",
      "s",
      "e",
      {},
      {
        request: new Request("https://convonet.test/ws", { method: "POST", body: "pin=1234" }),
        audio: new Uint8Array([1, 2, 3]),
        handler: () => undefined,
        missing: undefined,
        text: "x".repeat(1_000),
        count: Number.NaN,
      },
    );
    expect(entry).toEqual({
      event: "e",
      level: "info",
      scope: "s",
      request: "[omitted]",
      audio: "[omitted]",
      text: `${"x".repeat(300)}…`,
      count: null,
    });
  });

  it("drops a URL's query (a token may ride in it) from errors and strings", () => {
    const error = new Error(
      "connect failed: wss://api.deepgram.com/v1/listen?model=nova-3&token=abc123 refused",
    );
    expect(describeError(error)).toBe(
      "Error: connect failed: wss://api.deepgram.com/v1/listen?… refused",
    );
    const entry = logEntry(
      "warn",
      "s",
      "e",
      {},
      { url: "https://convonet.test/twilio/media/1?t=secret" },
    );
    expect(entry.url).toBe("https://convonet.test/twilio/media/1?…");
  });

  it("describes an error and its cause, never its stack or SQL parameters", () => {
    const error = new Error("Failed query: select 1 where pin_hash = $1\nparams: deadbeef", {
      cause: new RangeError("socket hang up"),
    });
    const entry = logEntry("error", "s", "e", {}, { error });
    expect(entry.error).toBe(
      "Error: Failed query: select 1 where pin_hash = $1 (cause: RangeError: socket hang up)",
    );
    expect(JSON.stringify(entry)).not.toContain("deadbeef");
    expect(JSON.stringify(entry)).not.toContain("at ");
    expect(logEntry("error", "s", "e", {}, "plain text thrown").error).toBe("plain text thrown");
    expect(logEntry("error", "s", "e", {}, 42).error).toBe("non-error thrown");
  });
});
