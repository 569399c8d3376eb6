/**
 * How the call behaves as a call (voice-ux.md): a goodbye ends it through a tool the model calls,
 * "mark it as done" does not, a typed message in a voice call is answered aloud, and the greeting
 * says what is due today. Through the real CallSession over the fakes of Claude and Deepgram.
 * (The silence check-in and "One moment" for a slow tool need shorter settings: test/workers-calls.)
 */
import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import type { ServerMessageOf } from "../../protocol/messages.ts";
import { calendarEvents, callSessions, reminders } from "../../worker/db/schema.ts";
import { localMidnight } from "../../worker/db/today.ts";
import { claudeRequests, scriptClaude } from "../fakes/anthropic/client.ts";
import { deepgramLog, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { signIn } from "./support/session-socket.ts";
import { createUser, db } from "./support/users.ts";
import { audioBytes, speak, ttsBytes, until } from "./support/voice.ts";

const deepgram = () => inject("deepgramBaseUrl");
const claude = () => inject("anthropicBaseUrl");

async function callRow(sessionId: string) {
  const [row] = await db().select().from(callSessions).where(eq(callSessions.id, sessionId));
  return row;
}

describe("the call as a call", () => {
  it("'goodbye' → the model calls end_call → a goodbye is spoken and the session ends", async () => {
    const user = await createUser({ name: `Bye ${crypto.randomUUID().slice(0, 8)}` });
    await scriptClaude(claude(), user.name, [
      {
        kind: "tool_use",
        text: "Bye for now — talk soon!",
        calls: [{ name: "end_call", input: {} }],
      },
      { kind: "text", text: "" },
    ]);
    const { socket, signedIn } = await signIn(user.pin);
    await scriptDeepgram(deepgram(), signedIn.sessionId, [
      { text: "that's all goodbye", afterAudioMs: 200 },
    ]);
    speak(socket, 300);
    const seen = await until(socket, "session_ended");
    const ended = seen.at(-1) as ServerMessageOf<"session_ended">;
    expect(ended.reason).toBe("hang_up");
    // The goodbye was heard in full before the end: spoken, and its audio sent.
    expect(seen.map((m) => m.type)).toContain("assistant_done");
    const spoken = (await deepgramLog(deepgram(), signedIn.sessionId)).spoken;
    expect(spoken).toContain("Bye for now — talk soon!");
    expect(audioBytes(socket)).toBeGreaterThanOrEqual(ttsBytes("Bye for now — talk soon!"));
    expect(await socket.waitForClose()).toBe(1000);
    // The model was offered the tool, and told when to use it.
    const [first] = await claudeRequests(claude(), user.name);
    expect(JSON.stringify(first?.body)).toContain('"name":"end_call"');
    await expect.poll(() => callRow(signedIn.sessionId)).toMatchObject({ endReason: "goodbye" });
    expect((await callRow(signedIn.sessionId))?.endedAt).not.toBeNull();
  });

  it("'mark it as done' does not end the call: only the model's end_call does", async () => {
    const user = await createUser({ name: `Done ${crypto.randomUUID().slice(0, 8)}` });
    await scriptClaude(claude(), user.name, [
      { kind: "text", text: "Which todo should I mark as done?" },
    ]);
    const { socket, signedIn } = await signIn(user.pin);
    socket.send({ type: "user_text", id: "m1", text: "mark it as done" });
    await socket.next("transcript");
    await until(socket, "assistant_done");
    // Still on the call: the socket answers, and the session is not ended.
    socket.send({ type: "ping", t: 7 });
    await until(socket, "pong");
    expect(socket.closed).toBeUndefined();
    expect((await callRow(signedIn.sessionId))?.endedAt).toBeNull();
    socket.close();
  });

  it("a typed message in a voice call is answered aloud as well as in text", async () => {
    const user = await createUser({ name: `Typed ${crypto.randomUUID().slice(0, 8)}` });
    const reply = "You have nothing else today.";
    await scriptClaude(claude(), user.name, [{ kind: "text", text: reply }]);
    const { socket, signedIn } = await signIn(user.pin);
    socket.send({ type: "audio_ready" });
    const greeting = (await socket.next("transcript")).entry.text;
    await expect.poll(() => audioBytes(socket)).toBe(ttsBytes(greeting));
    socket.send({ type: "user_text", id: "m1", text: "anything else on today" });
    const done = (await until(socket, "assistant_done")).at(
      -1,
    ) as ServerMessageOf<"assistant_done">;
    expect(done.entry.text).toBe(reply);
    await expect.poll(() => audioBytes(socket)).toBe(ttsBytes(greeting) + ttsBytes(reply));
    expect((await deepgramLog(deepgram(), signedIn.sessionId)).spoken).toContain(reply);
    // The agent knows it greeted the caller: the greeting is in the history Claude was sent.
    const [request] = await claudeRequests(claude(), user.name);
    expect(JSON.stringify(request?.body)).toContain(greeting);
    socket.close();
  });

  it("words said before a tool are heard while it runs, not held until the answer after it", async () => {
    const user = await createUser({ name: `Look ${crypto.randomUUID().slice(0, 8)}` });
    const before = "Let me look at your list.";
    const reply = "You have no todos.";
    await scriptClaude(claude(), user.name, [
      { kind: "tool_use", text: before, calls: [{ name: "list_todos", input: {} }] },
      // The answer after the tool is slow to come (within the test's 1.5 s stall deadline): what
      // was said before it must not wait for it.
      { kind: "text", text: reply, latency: { firstTokenMs: 1_200 } },
    ]);
    const { socket, signedIn } = await signIn(user.pin);
    await scriptDeepgram(deepgram(), signedIn.sessionId, [
      { text: "what are my todos", afterAudioMs: 200 },
    ]);
    speak(socket, 300);
    const toolStarted = (await until(socket, "tool_activity")).at(-1);
    expect(toolStarted).toMatchObject({ tool: "list_todos", status: "started" });
    // All of it reaches the caller well before the next answer's first word could.
    await expect
      .poll(() => audioBytes(socket), { timeout: 600 })
      .toBeGreaterThanOrEqual(ttsBytes(before));
    const done = (await until(socket, "assistant_done")).at(
      -1,
    ) as ServerMessageOf<"assistant_done">;
    expect(done.entry.text).toBe(`${before} ${reply}`);
    await expect.poll(() => audioBytes(socket)).toBe(ttsBytes(before) + ttsBytes(reply));
    expect((await deepgramLog(deepgram(), signedIn.sessionId)).spoken).toEqual([before, reply]);
    socket.close();
  });

  it("the greeting names the caller's reminder due today and their next event", async () => {
    const user = await createUser({ name: `Alice ${crypto.randomUUID().slice(0, 8)}` });
    const now = Date.now();
    const tomorrow = localMidnight(new Date(now), user.timezone, 1).getTime();
    // Later today (or, a minute before midnight, earlier today: still today's).
    const remindAt = new Date(Math.min(now + 3_600_000, tomorrow - 60_000));
    await db()
      .insert(reminders)
      .values([
        { userId: user.id, message: "Call the registrar", remindAt },
        // Dismissed, and tomorrow's: neither is said.
        { userId: user.id, message: "Water the plants", remindAt, dismissed: true },
        { userId: user.id, message: "Renew the domain", remindAt: new Date(tomorrow + 3_600_000) },
      ]);
    await db()
      .insert(calendarEvents)
      .values({
        ownerId: user.id,
        title: "Ops stand-up",
        startsAt: new Date(tomorrow + 9 * 3_600_000),
        endsAt: new Date(tomorrow + 9.5 * 3_600_000),
      });
    const { socket } = await signIn(user.pin);
    socket.send({ type: "audio_ready" });
    const greeting = (await socket.next("transcript")).entry.text;
    expect(greeting).toMatch(
      /^Hi Alice — you have a reminder at \d{1,2}(:\d\d)? [ap]m to call the registrar/,
    );
    expect(greeting).toContain("Ops stand-up");
    expect(greeting).toMatch(/What can I do for you\?$/);
    expect(greeting).not.toContain("plants");
    expect(greeting).not.toContain("domain");
    socket.close();
  });
});
