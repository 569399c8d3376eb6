/**
 * The call's timing with short settings (vitest.config.ts, project workers-calls): a silent
 * caller is checked in on after 1.5 s and said goodbye to after 4 s, the session then ending;
 * speaking resets the silence; a tool still running after 1 ms gets "One moment, please."
 * spoken before the reply, kept out of the reply's text and of what was heard.
 */
import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { SILENCE_CHECK_IN, SILENCE_GOODBYE } from "../../durable-objects/call-session.ts";
import { HOLD_ON_TEXT } from "../../durable-objects/voice-turn.ts";
import type { ServerMessage, ServerMessageOf } from "../../protocol/messages.ts";
import { callSessions } from "../../worker/db/schema.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { deepgramLog, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { type SessionSocket, signIn } from "../workers/support/session-socket.ts";
import { storedTurns } from "../workers/support/transcripts.ts";
import { createUser, db } from "../workers/support/users.ts";
import { speak, until } from "../workers/support/voice.ts";

const deepgram = () => inject("deepgramBaseUrl");
const claude = () => inject("anthropicBaseUrl");

/** The assistant's next line in the transcript (the greeting, a check-in, a goodbye). */
async function nextLine(socket: SessionSocket, timeoutMs = 8_000) {
  const seen = await until(socket, "transcript", timeoutMs);
  const last = seen.at(-1) as ServerMessageOf<"transcript">;
  return { entry: last.entry, at: Date.now(), seen };
}

describe("call timing", () => {
  it("silence → a gentle check-in after the delay, then a goodbye and the session ends", async () => {
    const user = await createUser({ name: `Quiet ${crypto.randomUUID().slice(0, 8)}` });
    const { socket, signedIn } = await signIn(user.pin);
    socket.send({ type: "audio_ready" });
    const greeting = await nextLine(socket);
    expect(greeting.entry.text).toMatch(/^Hi Quiet/);
    const checkIn = await nextLine(socket);
    expect(checkIn.entry).toMatchObject({ role: "assistant", text: SILENCE_CHECK_IN });
    // Not before the silence was 1.5 s long (the greeting itself plays for about 0.3 s).
    expect(checkIn.at - greeting.at).toBeGreaterThanOrEqual(1_400);
    const goodbye = await nextLine(socket);
    expect(goodbye.entry).toMatchObject({ role: "assistant", text: SILENCE_GOODBYE });
    expect(goodbye.at - greeting.at).toBeGreaterThanOrEqual(3_800);
    const ended = (await until(socket, "session_ended")).at(-1);
    expect(ended).toMatchObject({ type: "session_ended", reason: "hang_up" });
    expect(await socket.waitForClose()).toBe(1000);
    // Both were said aloud, and the call's record says why it ended.
    // (Spoken a sentence or clause at a time.)
    const spoken = (await deepgramLog(deepgram(), signedIn.sessionId)).spoken.join(" ");
    expect(spoken).toContain(SILENCE_CHECK_IN);
    expect(spoken).toContain(SILENCE_GOODBYE);
    await expect
      .poll(async () => {
        const [row] = await db()
          .select()
          .from(callSessions)
          .where(eq(callSessions.id, signedIn.sessionId));
        return row?.endReason;
      })
      .toBe("silence");
    expect(await storedTurns(signedIn.sessionId)).toEqual([
      `assistant: ${greeting.entry.text}`,
      `assistant: ${SILENCE_CHECK_IN}`,
      `assistant: ${SILENCE_GOODBYE}`,
    ]);
  }, 20_000);

  it("a caller who speaks or types is not silent: no check-in while they keep talking", async () => {
    const user = await createUser({ name: `Chatty ${crypto.randomUUID().slice(0, 8)}` });
    await scriptClaude(claude(), user.name, [
      { kind: "text", text: "Okay." },
      { kind: "text", text: "Sure." },
    ]);
    const { socket } = await signIn(user.pin);
    socket.send({ type: "audio_ready" });
    await nextLine(socket);
    const seen: ServerMessage[] = [];
    // A message every second for three seconds: never 1.5 s of silence.
    for (const [i, text] of ["first thing", "second thing"].entries()) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      socket.send({ type: "user_text", id: `m${i}`, text });
      seen.push(...(await until(socket, "assistant_done")));
    }
    await new Promise((resolve) => setTimeout(resolve, 700));
    socket.send({ type: "ping", t: 1 });
    seen.push(...(await until(socket, "pong")));
    const lines = seen.flatMap((m) => (m.type === "transcript" ? [m.entry.text] : []));
    expect(lines).not.toContain(SILENCE_CHECK_IN);
    socket.close();
  });

  it("a slow tool: 'One moment, please.' is spoken before the reply, and is not part of it", async () => {
    const user = await createUser({ name: `Slow ${crypto.randomUUID().slice(0, 8)}` });
    const reply = "You have no todos.";
    await scriptClaude(claude(), user.name, [
      { kind: "tool_use", calls: [{ name: "list_todos", input: {} }] },
      { kind: "text", text: reply },
    ]);
    const { socket, signedIn } = await signIn(user.pin);
    await scriptDeepgram(deepgram(), signedIn.sessionId, [
      { text: "what are my todos", afterAudioMs: 200 },
    ]);
    speak(socket, 300);
    const done = (await until(socket, "assistant_done")).at(
      -1,
    ) as ServerMessageOf<"assistant_done">;
    expect(done.entry.text).toBe(reply);
    expect(done.interrupted).toBe(false);
    await expect
      .poll(async () => (await deepgramLog(deepgram(), signedIn.sessionId)).spoken)
      .toEqual([HOLD_ON_TEXT, reply]);
    await expect
      .poll(() => storedTurns(signedIn.sessionId))
      .toEqual(["user: what are my todos", `assistant: ${reply}`]);
    socket.close();
  });
});
