/**
 * Scenario tests of the agent through the real CallSession, the real LangGraph agent and
 * tools, real Postgres, and a fake of the Anthropic Messages API that speaks its SSE protocol.
 * Each test scripts the fake for its own user (matched by the user's unique name, which is in
 * the system prompt), so tests never see each other's conversations.
 */
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import type { ServerMessageOf } from "../../protocol/messages.ts";
import {
  calendarEvents,
  humanAgents,
  teamMemberships,
  teams,
  todos,
  transcriptTurns,
  transfers,
} from "../../worker/db/schema.ts";
import { claudeRequests, type Step, scriptClaude } from "../fakes/anthropic/client.ts";
import { SessionSocket, signIn } from "./support/session-socket.ts";
import { storedTurns } from "./support/transcripts.ts";
import { createUser, db } from "./support/users.ts";

const fake = () => inject("anthropicBaseUrl");

async function newCaller(steps: Step[], options: { team?: string } = {}) {
  const user = await createUser({ name: `Caller ${crypto.randomUUID().slice(0, 8)}`, ...options });
  await scriptClaude(fake(), user.name, steps);
  const { socket, signedIn } = await signIn(user.pin);
  return { user, socket, signedIn };
}

let messageCounter = 0;
function say(socket: SessionSocket, text: string) {
  messageCounter += 1;
  socket.send({ type: "user_text", id: `m${messageCounter}`, text });
}

/** Reads one whole turn: the echo of the caller's words, then everything up to assistant_done. */
async function turn(socket: SessionSocket, text: string) {
  say(socket, text);
  await socket.next("transcript");
  return readTurn(socket);
}

async function readTurn(socket: SessionSocket) {
  const deltas: string[] = [];
  const activity: ServerMessageOf<"tool_activity">[] = [];
  const notices: ServerMessageOf<"notice">[] = [];
  const transferStates: ServerMessageOf<"transfer_status">[] = [];
  for (;;) {
    const message = await socket.nextAny(10_000);
    if (message.type === "assistant_delta") deltas.push(message.delta);
    else if (message.type === "tool_activity") activity.push(message);
    else if (message.type === "notice") notices.push(message);
    else if (message.type === "transfer_status") transferStates.push(message);
    else if (message.type === "assistant_done") {
      return { deltas, activity, notices, transferStates, done: message };
    } else throw new Error(`unexpected ${JSON.stringify(message)}`);
  }
}

function toolResults(body: unknown): string[] {
  const messages = (body as { messages: { role: string; content: unknown }[] }).messages;
  return messages.flatMap((m) =>
    Array.isArray(m.content)
      ? m.content.flatMap((b: { type?: string; content?: unknown }) =>
          b.type === "tool_result" ? [JSON.stringify(b.content)] : [],
        )
      : [],
  );
}

describe("agent", () => {
  it("streams a reply as it is written, and records both turns in Postgres", async () => {
    const text = "Hello there, how can I help you today?"; // 8 words: 8 text deltas from the fake
    const { socket, signedIn } = await newCaller([
      { kind: "text", text, latency: { chunkMs: 150 } },
      { kind: "text", text },
    ]);
    // Tokens 150 ms apart reach the page one by one: the page's text leaves at most every 50 ms
    // (conversation.ts TEXT_EVERY_MS), and a token held up on a busy thread must not join the
    // next (60 ms apart left a margin of 10).
    const paced = await turn(socket, "hi");
    expect(paced.deltas).toHaveLength(8);
    expect(paced.deltas.join("")).toBe(text);
    expect(paced.done.interrupted).toBe(false);
    expect(paced.done.entry.text).toBe(text);
    expect(paced.done.metrics.firstTextMs).not.toBeNull();
    // Tokens that arrive together leave together: the first at once, the rest when the
    // model's answer is complete — not one message per token.
    const together = await turn(socket, "again");
    expect(together.deltas.join("")).toBe(text);
    expect(together.deltas.length).toBeLessThan(8);
    await expect
      .poll(() => storedTurns(signedIn.sessionId))
      .toEqual(["user: hi", `assistant: ${text}`, "user: again", `assistant: ${text}`]);
    socket.close();
  });

  it("each turn reads the call before it from Claude's prompt cache, once the call is past the model's minimum", async () => {
    // Replies of about 450 tokens (the fake counts four characters a token), so that the call
    // passes Haiku 4.5's 4096 tokens, under which Anthropic caches nothing, within a few turns.
    const reply = (n: number) => `Answer ${n}: ${"here is what you asked about. ".repeat(60)}`;
    const { user, socket } = await newCaller(
      [1, 2, 3, 4, 5, 6].map((n) => ({ kind: "text" as const, text: reply(n) })),
    );
    for (let n = 1; n <= 6; n++) await turn(socket, `question ${n}`);
    socket.close();
    const requests = await claudeRequests(fake(), user.name);
    // The product's model: the tools and instructions alone (about 3 000 tokens) are under its minimum.
    expect(JSON.stringify(requests[0]?.body)).toContain(`"model":"claude-haiku-4-5"`);
    const usage = requests.map((r) => r.usage);
    expect(usage[0]).toMatchObject({ cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
    const firstWrite = usage.findIndex((u) => (u?.cache_creation_input_tokens ?? 0) > 0);
    expect(firstWrite).toBeGreaterThan(0);
    expect(firstWrite).toBeLessThan(4);
    for (let n = firstWrite + 1; n < usage.length; n++) {
      const before = usage[n - 1];
      const read =
        (before?.cache_read_input_tokens ?? 0) + (before?.cache_creation_input_tokens ?? 0);
      // Everything the turn before it read or wrote, the time that changed included…
      expect(usage[n]?.cache_read_input_tokens, `turn ${n + 1}`).toBe(read);
      // …and only its own words unmarked: the rest is its exchange, written for the next turn.
      expect(usage[n]?.input_tokens, `turn ${n + 1}`).toBeLessThan(100);
    }
  });

  it("creates, lists and completes todos, and the rows really change", async () => {
    const { user, socket, signedIn } = await newCaller([
      {
        kind: "tool_use",
        calls: [
          {
            name: "create_todo",
            input: { title: "Renew the domain", priority: "high", due: "2026-11-27" },
          },
        ],
      },
      { kind: "text", text: "Done — renew the domain is due Friday." },
    ]);
    const created = await turn(socket, "add a high-priority todo to renew the domain by Friday");
    expect(created.activity.map((a) => a.status)).toEqual(["started", "done"]);
    expect(created.activity[1]?.text).toMatch(/Renew the domain/);
    const [row] = await db().select().from(todos).where(eq(todos.creatorId, user.id));
    expect(row).toMatchObject({ title: "Renew the domain", priority: "high", completed: false });
    if (!row) throw new Error("no todo");

    await scriptClaude(fake(), user.name, [
      { kind: "tool_use", calls: [{ name: "list_todos", input: {} }] },
      { kind: "tool_use", calls: [{ name: "complete_todo", input: { id: row.id } }] },
      { kind: "text", text: "Marked it as done." },
    ]);
    const completed = await turn(socket, "what do I have, and mark the domain one done");
    expect(completed.done.entry.text).toBe("Marked it as done.");
    const [after] = await db().select().from(todos).where(eq(todos.id, row.id));
    expect(after?.completed).toBe(true);

    const requests = await claudeRequests(fake(), user.name);
    // One request per model call: each turn's first, asked before the graph ran, was the one the
    // graph used (none asked twice, none cancelled).
    expect(requests.map((r) => r.aborted)).toEqual([false, false, false, false, false]);
    const listed = toolResults(requests.at(-2)?.body).join("\n");
    expect(listed).toContain("Renew the domain");
    const [assistantTurn] = await db()
      .select()
      .from(transcriptTurns)
      .where(
        and(
          eq(transcriptTurns.sessionId, signedIn.sessionId),
          eq(transcriptTurns.role, "assistant"),
        ),
      )
      .orderBy(transcriptTurns.seq);
    expect(assistantTurn?.toolCalls).toEqual([
      {
        name: "create_todo",
        input: { title: "Renew the domain", priority: "high", due: "2026-11-27" },
        ok: true,
      },
    ]);
    socket.close();
  });

  it("reports a calendar conflict back to the model", async () => {
    const user = await createUser({ name: `Caller ${crypto.randomUUID().slice(0, 8)}` });
    await db()
      .insert(calendarEvents)
      .values({
        ownerId: user.id,
        title: "Dentist",
        startsAt: new Date("2026-12-01T14:00:00Z"),
        endsAt: new Date("2026-12-01T15:00:00Z"),
      });
    await scriptClaude(fake(), user.name, [
      {
        kind: "tool_use",
        calls: [
          {
            name: "create_event",
            input: {
              title: "Call with Sam",
              starts_at: "2026-12-01T14:30:00Z",
              duration_minutes: 30,
            },
          },
        ],
      },
      { kind: "text", text: "Booked, but it overlaps the dentist." },
    ]);
    const { socket } = await signIn(user.pin);
    await turn(socket, "book a call with Sam on December first at 2:30 pm UTC");
    const requests = await claudeRequests(fake(), user.name);
    expect(toolResults(requests.at(-1)?.body).join("\n")).toMatch(/Dentist/);
    const events = await db()
      .select()
      .from(calendarEvents)
      .where(eq(calendarEvents.ownerId, user.id));
    expect(events.map((e) => e.title).sort()).toEqual(["Call with Sam", "Dentist"]);
    socket.close();
  });

  it("refuses a team todo from a viewer", async () => {
    const owner = await createUser({
      name: `Owner ${crypto.randomUUID().slice(0, 8)}`,
      team: "Crew",
    });
    const viewer = await createUser({ name: `Viewer ${crypto.randomUUID().slice(0, 8)}` });
    const [membership] = await db()
      .select()
      .from(teamMemberships)
      .where(eq(teamMemberships.userId, owner.id));
    if (!membership) throw new Error("no team");
    await db()
      .insert(teamMemberships)
      .values({ teamId: membership.teamId, userId: viewer.id, role: "viewer" });
    const [team] = await db().select().from(teams).where(eq(teams.id, membership.teamId));
    await scriptClaude(fake(), viewer.name, [
      {
        kind: "tool_use",
        calls: [
          {
            name: "create_team_todo",
            input: { team: team?.name, title: "Restock the van", assignee: owner.name },
          },
        ],
      },
      { kind: "text", text: "Sorry, viewers can't assign todos." },
    ]);
    const { socket } = await signIn(viewer.pin);
    const result = await turn(socket, "have the owner restock the van");
    expect(result.activity.map((a) => a.status)).toEqual(["started", "failed"]);
    const requests = await claudeRequests(fake(), viewer.name);
    expect(toolResults(requests.at(-1)?.body).join("\n")).toMatch(/Viewers can't assign/);
    const teamTodos = await db().select().from(todos).where(eq(todos.teamId, membership.teamId));
    expect(teamTodos).toEqual([]);
    socket.close();
  });

  it("never shows or changes another user's data, even when the model asks by id", async () => {
    const other = await createUser({ name: `Other ${crypto.randomUUID().slice(0, 8)}` });
    const [secret] = await db()
      .insert(todos)
      .values({ title: "Other's secret plan", creatorId: other.id, assigneeId: other.id })
      .returning();
    if (!secret) throw new Error("no todo");
    const { user, socket } = await newCaller([
      {
        kind: "tool_use",
        calls: [
          { name: "complete_todo", input: { id: secret.id } },
          { name: "update_todo", input: { id: secret.id, title: "hijacked" } },
          { name: "delete_todo", input: { id: secret.id } },
          { name: "list_todos", input: { status: "all" } },
        ],
      },
      { kind: "text", text: "I couldn't find that one." },
    ]);
    await turn(socket, `complete todo ${secret.id}`);
    const results = toolResults((await claudeRequests(fake(), user.name)).at(-1)?.body);
    expect(results).toHaveLength(4);
    for (const result of results.slice(0, 3)) expect(result).toMatch(/not found/i);
    expect(results.join("\n")).not.toContain("secret plan");
    const [unchanged] = await db().select().from(todos).where(eq(todos.id, secret.id));
    expect(unchanged).toMatchObject({ title: "Other's secret plan", completed: false });
    socket.close();
  });

  it('"transfer this todo to Sam" does not start a call transfer; transfer_to_agent does', async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    await db()
      .insert(humanAgents)
      .values({
        name: `Agent ${tag}`,
        login: `agent-${tag}`,
        sipExtension: `9${tag}`,
        department: "support",
      });
    const { user, socket, signedIn } = await newCaller([
      { kind: "text", text: "Which todo should go to Sam?" },
      { kind: "tool_use", calls: [{ name: "list_departments", input: {} }] },
      {
        kind: "tool_use",
        calls: [
          {
            name: "transfer_to_agent",
            input: { department: "support", reason: "billing question" },
          },
        ],
      },
      { kind: "text", text: "Transfer to a person isn't set up here, sorry." },
    ]);
    const rows = () =>
      db().select().from(transfers).where(eq(transfers.sessionId, signedIn.sessionId));

    const first = await turn(socket, "transfer this todo to Sam");
    expect(first.transferStates).toEqual([]);
    expect(await rows()).toEqual([]);

    // This Worker has no Twilio settings: the request is recorded, and refused plainly.
    const second = await turn(socket, "yes, please put me through to a person in support");
    expect(second.transferStates.map((t) => t.state)).toEqual(["requested", "failed"]);
    expect(second.transferStates.at(-1)).toMatchObject({ outcome: "not_configured" });
    expect(await rows()).toMatchObject([
      {
        department: "support",
        reason: "billing question",
        status: "failed",
        failureReason: "not_configured",
        caller: { name: user.name },
      },
    ]);
    const sent = toolResults((await claudeRequests(fake(), user.name)).at(-1)?.body).join("\n");
    expect(sent).toMatch(/not set up/i);
    socket.close();
  });

  it("retries an overloaded model, then answers", async () => {
    const { socket } = await newCaller([
      { kind: "error", status: 529 },
      { kind: "error", status: 429, retryAfterSeconds: 0 },
      { kind: "text", text: "Here I am." },
    ]);
    const { done } = await turn(socket, "hello?");
    expect(done.entry.text).toBe("Here I am.");
    socket.close();
  });

  it("gives up on a stalled stream and retries, so a turn never hangs", async () => {
    const { socket } = await newCaller([
      { kind: "text", text: "too late", latency: { firstTokenMs: 5_000 } },
      { kind: "text", text: "Sorry for the wait." },
    ]);
    const { done } = await turn(socket, "hello?");
    expect(done.entry.text).toBe("Sorry for the wait.");
    expect(done.metrics.totalMs).toBeLessThan(4_000);
    socket.close();
  });

  it("retries a dropped stream before anything was said", async () => {
    const { socket } = await newCaller([
      { kind: "cut", text: "this never", afterChunks: 0 },
      { kind: "text", text: "Second try worked." },
    ]);
    expect((await turn(socket, "hello?")).done.entry.text).toBe("Second try worked.");
    socket.close();
  });

  it("apologises in plain words when Claude stays overloaded, and the call goes on", async () => {
    const { user, socket } = await newCaller([
      { kind: "error", status: 529 },
      { kind: "error", status: 529 },
      { kind: "error", status: 529 },
      { kind: "error", status: 529 },
      { kind: "text", text: "Back again." },
    ]);
    const failed = await turn(socket, "hello?");
    expect(failed.done.entry.text).toMatch(/^Sorry, I'm having trouble/);
    expect((await claudeRequests(fake(), user.name)).length).toBe(4);
    expect((await turn(socket, "and now?")).done.entry.text).toBe("Back again.");
    socket.close();
  });

  it("a new message cancels the running turn cleanly, with no half-done tool call", async () => {
    const { user, socket } = await newCaller([
      {
        kind: "tool_use",
        text: "Let me add that for you.",
        calls: [{ name: "create_todo", input: { title: "Half-done todo" } }],
        latency: { chunkMs: 400 },
      },
      { kind: "text", text: "Okay, never mind then." },
    ]);
    say(socket, "add a todo");
    await socket.next("transcript");
    await socket.next("assistant_delta");
    say(socket, "actually, forget it");
    const cancelled = await readTurn(socket);
    expect(cancelled.done.interrupted).toBe(true);
    await socket.next("transcript");
    const next = await readTurn(socket);
    expect(next.done.entry.text).toBe("Okay, never mind then.");
    expect(await db().select().from(todos).where(eq(todos.creatorId, user.id))).toEqual([]);
    const requests = await claudeRequests(fake(), user.name);
    expect(requests).toHaveLength(2);
    expect(requests[0]?.aborted).toBe(true);
    // The second request is valid: the cancelled turn left only what was said.
    const history = JSON.stringify(requests[1]?.body);
    expect(history).not.toContain("tool_use");
    socket.close();
  });

  it("messages sent while a reply is cancelled are answered together; one turn runs at a time", async () => {
    const { user, socket } = await newCaller([
      { kind: "text", text: "This is a long and slow first answer.", latency: { chunkMs: 300 } },
      { kind: "text", text: "Got it." },
      { kind: "text", text: "Got it." },
      { kind: "text", text: "Got it." },
    ]);
    say(socket, "first question");
    await socket.next("transcript");
    await socket.next("assistant_delta");
    say(socket, "second thought");
    say(socket, "third thought");
    const seen: string[] = [];
    let lastDone: ServerMessageOf<"assistant_done"> | undefined;
    let echoes = 0;
    while (echoes < 2 || lastDone === undefined || lastDone.interrupted) {
      const message = await socket.nextAny();
      if (message.type === "transcript") echoes += 1;
      if (message.type === "assistant_delta") seen.push(message.turnId);
      if (message.type === "assistant_done") {
        lastDone = message;
        // A finished turn never speaks again.
        seen.push(`done:${message.turnId}`);
      }
    }
    expect(lastDone.entry.text).toBe("Got it.");
    for (const [i, id] of seen.entries()) {
      if (id.startsWith("done:")) expect(seen.slice(i + 1)).not.toContain(id.slice(5));
    }
    const last = JSON.stringify((await claudeRequests(fake(), user.name)).at(-1)?.body);
    expect(last).toContain("second thought");
    expect(last).toContain("third thought");
    socket.close();
  });

  it("resumes the conversation after the object is evicted", async () => {
    const { user, socket, signedIn } = await newCaller([
      { kind: "text", text: "Nice to meet you, Pat." },
      { kind: "text", text: "Your name is Pat." },
    ]);
    await turn(socket, "my name is Pat");
    socket.close();
    await socket.waitForClose();
    await evictDurableObject(
      env.CALL_SESSION.get(env.CALL_SESSION.idFromString(signedIn.sessionId)),
    );

    const again = await SessionSocket.open({ session: signedIn.sessionId });
    await again.next("hello");
    again.send({ type: "resume", token: signedIn.resumeToken });
    const resumed = await again.next("signed_in");
    expect(resumed.transcript.map((e) => e.text)).toEqual([
      "my name is Pat",
      "Nice to meet you, Pat.",
    ]);
    await turn(again, "what's my name?");
    const last = JSON.stringify((await claudeRequests(fake(), user.name)).at(-1)?.body);
    expect(last).toContain("my name is Pat");
    expect(last).toContain("Nice to meet you, Pat.");
    again.close();
  });
});
