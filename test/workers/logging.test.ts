/**
 * The operator's view of a call: one structured object per event, each with its session id, and
 * nothing secret in any of them. A whole call is driven through the real Worker — a wrong PIN, a
 * lockout, the PIN limits, sign-in, typed turns with a tool call and a provider's retries and
 * failure, a spoken turn spoken over, a disconnect, a resume and a hang-up — and every console
 * call made meanwhile is read back.
 */
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { paceDeepgramTts, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { openSignIn, spendWrongPins, uniqueIpv4, wrongPin } from "./support/pin-callers.ts";
import { SessionSocket, signIn } from "./support/session-socket.ts";
import { createUser } from "./support/users.ts";
import { speak, ttsBytes, until } from "./support/voice.ts";

const claude = () => inject("anthropicBaseUrl");
const deepgram = () => inject("deepgramBaseUrl");

/** The keys and secrets the test Worker is configured with (vitest.config.ts). */
const CONFIGURED_SECRETS = [
  "test-anthropic-key",
  "test-deepgram-key",
  "test-pin-secret-0123456789abcdef",
];

type Entry = Record<string, unknown>;

// The Durable Objects run in the tests' isolate, so the console they log to is this one.
describe("logs", () => {
  /** Every console call: its arguments, as given. */
  const calls: unknown[][] = [];
  beforeEach(() => {
    calls.length = 0;
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        calls.push(args);
      });
    }
  });
  afterEach(() => vi.restoreAllMocks());

  const entries = (): Entry[] =>
    calls.flatMap((args) =>
      args.length === 1 && typeof args[0] === "object" && args[0] !== null
        ? [args[0] as Entry]
        : [],
    );
  const find = (event: string, match: Entry = {}) =>
    entries().filter(
      (entry) =>
        entry.event === event &&
        Object.entries(match).every(([name, value]) => entry[name] === value),
    );
  /** Waits for a line logged in the background (a closed socket, a turn's end). */
  const logged = (event: string, match: Entry = {}) =>
    expect.poll(() => find(event, match).length, { timeout: 5_000 }).toBeGreaterThan(0);

  it("logs every event of a call once, as JSON with its session, and nothing secret", async () => {
    const user = await createUser({ name: `Logged ${crypto.randomUUID().slice(0, 8)}` });
    const marker = crypto.randomUUID().slice(0, 8);
    const long = `You have two todos for today. The first is renewing the domain, ${marker}. The second is buying milk.`;
    await scriptClaude(claude(), user.name, [
      // A typed turn: Claude is overloaded once (retried), then calls a tool, then answers.
      { kind: "error", status: 529 },
      { kind: "tool_use", calls: [{ name: "list_todos", input: {} }] },
      { kind: "text", text: "Nothing is due." },
      // A typed turn on which Claude stays overloaded: the provider's error.
      { kind: "error", status: 529 },
      { kind: "error", status: 529 },
      { kind: "error", status: 529 },
      { kind: "error", status: 529 },
      // A spoken turn, spoken over, then the next one.
      { kind: "text", text: long },
      { kind: "text", text: "Okay, stopping." },
    ]);
    await paceDeepgramTts(deepgram(), { match: marker, chunkMs: 20, msPerChar: 40 });

    // A wrong PIN, then a session's own lockout.
    const wrongPins: string[] = [];
    const lockedIp = uniqueIpv4();
    const locked = await openSignIn(lockedIp);
    for (let i = 0; i < 5; i++) {
      const pin = wrongPin();
      wrongPins.push(pin);
      locked.send({ type: "sign_in", pin });
      await locked.next(i < 4 ? "pin_rejected" : "session_ended");
    }
    // The address limit: its last try, then a refusal.
    const throttledIp = uniqueIpv4();
    await spendWrongPins(throttledIp, 20);
    const refused = await openSignIn(throttledIp);
    const refusedPin = wrongPin();
    wrongPins.push(refusedPin);
    refused.send({ type: "sign_in", pin: refusedPin });
    expect(await refused.next("error")).toMatchObject({ code: "throttled" });
    refused.close();

    const { socket, signedIn } = await signIn(user.pin, uniqueIpv4());
    const session = signedIn.sessionId;

    // Typed turns.
    socket.send({ type: "user_text", id: "m1", text: "what is on my list?" });
    await until(socket, "assistant_done");
    socket.send({ type: "user_text", id: "m2", text: "and tomorrow?" });
    await until(socket, "assistant_done");

    // A spoken turn, and the caller speaking over its reply.
    await scriptDeepgram(deepgram(), session, [
      { text: "what do I have today", afterAudioMs: 200 },
      { text: "stop please", afterAudioMs: 600 },
    ]);
    speak(socket, 300);
    await until(socket, "voice_metrics");
    await expect
      .poll(() => socket.audio.reduce((n, f) => n + f.byteLength - 4, 0))
      .toBeGreaterThan(ttsBytes("You have two todos for today."));
    speak(socket, 400);
    const clear = (await until(socket, "playback_clear")).at(-1);
    socket.send({
      type: "playback_stopped",
      turnId: clear?.type === "playback_clear" ? clear.turnId : "",
      playedMs: 100,
    });
    for (;;) {
      const done = (await until(socket, "assistant_done")).at(-1);
      if (done?.type === "assistant_done" && done.entry.text === "Okay, stopping.") break;
    }

    // Gone, back, and goodbye.
    socket.close();
    await logged("disconnect", { session });
    const back = await SessionSocket.open({ session });
    await back.next("hello");
    back.send({ type: "resume", token: signedIn.resumeToken });
    const resumed = await back.next("signed_in");
    back.send({ type: "hang_up" });
    await until(back, "session_ended");
    await logged("hang_up", { session });

    // Each event, with its session and its figures.
    const lockedClient = `ip4:${lockedIp}`;
    const throttledClient = `ip4:${throttledIp}`;
    expect(find("sign_in_rejected", { client: lockedClient })).toHaveLength(4);
    expect(find("lockout", { client: lockedClient })).toHaveLength(1);
    expect(find("throttle", { client: throttledClient, limit: "network" })).toHaveLength(2);
    expect(find("sign_in", { session })).toHaveLength(1);
    expect(find("provider_retry", { session, provider: "anthropic" }).length).toBeGreaterThan(0);
    expect(find("provider_error", { session, provider: "anthropic" })).toHaveLength(1);
    expect(find("tool_call", { session, tool: "list_todos", ok: true })).toHaveLength(1);
    expect(find("barge_in", { session })).toHaveLength(1);
    expect(find("resume", { session })).toHaveLength(1);
    expect(find("disconnect", { session })).toHaveLength(1);
    expect(find("hang_up", { session })).toHaveLength(1);
    // One line per turn: two typed, two spoken (the one spoken over, and the next).
    const turns = find("turn", { session });
    expect(turns.map((t) => [t.input, t.interrupted])).toEqual([
      ["typed", false],
      ["typed", false],
      ["spoken", true],
      ["spoken", false],
    ]);
    expect(turns[0]).toMatchObject({ tools: 1, failedTools: 0 });
    // Claude's input over the turn's two calls, and what its prompt cache served of it.
    expect(turns[0]?.inputTokens).toBeGreaterThan(0);
    expect(turns[0]).toHaveProperty("cacheReadTokens");
    expect(turns[0]).toHaveProperty("cacheWriteTokens");
    expect(turns[0]?.totalMs).toBeGreaterThanOrEqual(0);
    expect(turns[3]?.endToEndMs).toBeGreaterThanOrEqual(0);
    expect(turns[3]?.llmTtftMs).toBeGreaterThanOrEqual(0);

    // Every line is one object with an event, a level and a scope; every line of a session
    // names it.
    expect(calls.length).toBeGreaterThan(0);
    for (const args of calls) {
      expect(args).toHaveLength(1);
      expect(args[0]).toMatchObject({
        event: expect.any(String),
        level: expect.stringMatching(/^(info|warn|error)$/),
        scope: expect.any(String),
      });
    }
    for (const entry of entries()) {
      if (entry.scope === "call-session" || entry.scope === "conversation") {
        expect(entry.session, JSON.stringify(entry)).toMatch(/^[0-9a-f]{64}$/);
      }
    }

    // Nothing secret, anywhere.
    const all = JSON.stringify(entries());
    for (const secret of [
      user.pin,
      user.pinHash,
      ...wrongPins,
      signedIn.resumeToken,
      resumed.resumeToken,
      ...CONFIGURED_SECRETS,
    ]) {
      expect(all).not.toContain(secret);
    }
  }, 60_000);
});
