/**
 * Postgres out of reach under a caller, end to end through the CallSession and the Neon HTTP
 * server in front of the test database: its fault switch (`POST /_fault`,
 * scripts/neon-http-server.ts) makes the requests that carry one parameter — a PIN's hash, a
 * session id — die with no answer, as an unreachable database does, without touching any other
 * test's queries. What the caller must experience: a sign-in that says plainly it could not check
 * the PIN, and a session that can try again; a call that goes on while its transcript rows are
 * retried (TRANSCRIPT_WRITE_ATTEMPTS, with backoff), and a row that cannot be written logged as
 * `transcript_lost` — never dropped silently.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { transcriptTurns } from "../../worker/db/schema.ts";
import { TRANSCRIPT_WRITE_ATTEMPTS } from "../../worker/db/transcripts.ts";
import { hashPin } from "../../worker/pin-hash.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { SessionSocket, signIn } from "../workers/support/session-socket.ts";
import { createUser, db } from "../workers/support/users.ts";

/** The next `times` requests to Postgres that carry `param` get no answer. */
async function cutPostgres(param: string, times: number) {
  const res = await fetch(new URL("/_fault", inject("neonFetchEndpoint")), {
    method: "POST",
    headers: { "neon-connection-string": inject("databaseUrl") },
    body: JSON.stringify({ param, times }),
  });
  if (!res.ok) throw new Error(`the Neon server's fault switch said ${res.status}`);
  await res.body?.cancel();
}

async function rows(sessionId: string) {
  return db()
    .select({ seq: transcriptTurns.seq, role: transcriptTurns.role, text: transcriptTurns.text })
    .from(transcriptTurns)
    .where(eq(transcriptTurns.sessionId, sessionId))
    .orderBy(transcriptTurns.seq);
}

/** The rows of a session once `count` are there (the writes run after the reply). */
async function rowsOnce(sessionId: string, count: number, timeoutMs = 8_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await rows(sessionId);
    if (found.length >= count || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Reads messages until an assistant_done; returns it. */
async function reply(socket: SessionSocket, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const message = await socket.nextAny(Math.max(1, deadline - Date.now()));
    if (message.type === "assistant_done") return message;
  }
}

// The Durable Objects run in the tests' isolate, so the console they log to is this one.
const logged: Record<string, unknown>[] = [];
beforeEach(() => {
  logged.length = 0;
  for (const level of ["log", "warn", "error"] as const)
    vi.spyOn(console, level).mockImplementation((entry: unknown) => {
      if (typeof entry === "object" && entry !== null)
        logged.push(entry as Record<string, unknown>);
    });
});
afterEach(() => vi.restoreAllMocks());
const lost = (session: string) =>
  logged.filter((e) => e.event === "transcript_lost" && e.session === session);

describe("Postgres faults", () => {
  it("Postgres unreachable during sign-in: the caller is told plainly, the session survives and signs in on the next try", async () => {
    const user = await createUser();
    await cutPostgres(await hashPin(user.pin, env.PIN_SECRET), 1);
    const socket = await SessionSocket.open();
    await socket.next("hello");
    socket.send({ type: "sign_in", pin: user.pin });
    const failed = await socket.next("error");
    expect(failed).toEqual({
      type: "error",
      code: "unavailable",
      message: "We could not check your PIN just now. Please try again.",
      fatal: false,
    });
    // Not counted as a wrong PIN, not a lockout: the same socket simply tries again.
    socket.send({ type: "sign_in", pin: user.pin });
    const signedIn = await socket.next("signed_in");
    expect(signedIn.user.name).toBe(user.name);
    expect(socket.closed).toBeUndefined();
    // No PIN in the server's log of the failure.
    expect(JSON.stringify(logged)).not.toContain(user.pin);
    socket.close();
  });

  it("Postgres unreachable for a moment during a transcript write: the call goes on, the rows are written on a retry", async () => {
    const user = await createUser({ name: `Rows ${crypto.randomUUID().slice(0, 8)}` });
    await scriptClaude(inject("anthropicBaseUrl"), user.name, [
      { kind: "text", text: "Noted." },
      { kind: "text", text: "Still here." },
    ]);
    const { socket, signedIn } = await signIn(user.pin);
    const session = signedIn.sessionId;
    // The turn's one write (the caller's words and the reply, one query) fails its first two
    // tries. Keyed on the words, which only that write carries: not on the test's own reads.
    await cutPostgres("remember the milk", 2);
    const startedAt = Date.now();
    socket.send({ type: "user_text", id: "pg-1", text: "remember the milk" });
    const done = await reply(socket);
    expect(done.entry.text).toBe("Noted.");
    // The reply did not wait on the database.
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect(await rowsOnce(session, 2)).toMatchObject([
      { role: "user", text: "remember the milk" },
      { role: "assistant", text: "Noted." },
    ]);
    expect(lost(session)).toEqual([]);
    socket.send({ type: "user_text", id: "pg-2", text: "are you there?" });
    expect((await reply(socket)).entry.text).toBe("Still here.");
    expect(await rowsOnce(session, 4)).toHaveLength(4);
    socket.close();
  });

  it("Postgres unreachable through every retry: the call goes on, each lost row is logged as transcript_lost, the next turn is written", async () => {
    const user = await createUser({ name: `Lost ${crypto.randomUUID().slice(0, 8)}` });
    await scriptClaude(inject("anthropicBaseUrl"), user.name, [
      { kind: "text", text: "Noted anyway." },
      { kind: "text", text: "Back on the record." },
    ]);
    const { socket, signedIn } = await signIn(user.pin);
    const session = signedIn.sessionId;
    // Every try of the turn's write fails: its two rows go to Postgres in one query, so as many
    // cuts as tries lose both (written one query a row, the reply's row would get through).
    await cutPostgres("book the dentist", TRANSCRIPT_WRITE_ATTEMPTS);
    socket.send({ type: "user_text", id: "pg-3", text: "book the dentist" });
    expect((await reply(socket)).entry.text).toBe("Noted anyway.");
    // Retried with backoff (0.25 + 0.5 + 1 s), then logged, not dropped silently.
    await vi.waitFor(() => expect(lost(session)).toHaveLength(2), { timeout: 8_000 });
    expect(lost(session)).toEqual([
      expect.objectContaining({
        level: "error",
        scope: "transcripts",
        seq: 1,
        role: "user",
        attempts: TRANSCRIPT_WRITE_ATTEMPTS,
      }),
      expect.objectContaining({ seq: 2, role: "assistant", attempts: TRANSCRIPT_WRITE_ATTEMPTS }),
    ]);
    // What was said is not in the log (it may be personal).
    expect(JSON.stringify(lost(session))).not.toContain("dentist");
    expect(await rows(session)).toEqual([]);
    socket.send({ type: "user_text", id: "pg-4", text: "and now?" });
    expect((await reply(socket)).entry.text).toBe("Back on the record.");
    expect(await rowsOnce(session, 2)).toMatchObject([
      { role: "user", text: "and now?" },
      { role: "assistant", text: "Back on the record." },
    ]);
    socket.close();
  });
});
