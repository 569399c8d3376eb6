/**
 * Spoken turns with Deepgram Flux (`/v2/listen`): an EagerEndOfTurn starts the agent before the
 * caller's turn is certain. Its reply is held until EndOfTurn commits it, and a TurnResumed takes
 * it back entirely — nothing shown, nothing spoken, nothing stored, nothing in the model's history.
 */
import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import type { ServerMessageOf } from "../../protocol/messages.ts";
import { todos } from "../../worker/db/schema.ts";
import { claudeRequests, scriptClaude } from "../fakes/anthropic/client.ts";
import { deepgramLog, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { signIn } from "../workers/support/session-socket.ts";
import { storedTurns } from "../workers/support/transcripts.ts";
import { createUser, db } from "../workers/support/users.ts";
import { audioBytes, speak, ttsBytes, until } from "../workers/support/voice.ts";

const deepgram = () => inject("deepgramBaseUrl");
const claude = () => inject("anthropicBaseUrl");

describe("voice with Flux", () => {
  it("starts the reply on EagerEndOfTurn and lets it out on EndOfTurn", async () => {
    const user = await createUser({ name: `Flux ${crypto.randomUUID().slice(0, 8)}` });
    const reply = "Your next meeting is at three.";
    await scriptClaude(claude(), user.name, [{ kind: "text", text: reply }]);
    const { socket, signedIn } = await signIn(user.pin);
    // EndOfTurn comes 400 ms after the eager one: time enough for the reply to be ready.
    await scriptDeepgram(
      deepgram(),
      signedIn.sessionId,
      [{ text: "when is my next meeting", afterAudioMs: 200, eager: true }],
      { eagerDelayMs: 0, endOfTurnDelayMs: 400 },
    );
    const before = socket.events.length;
    speak(socket, 240);
    // The model is asked before the turn is certain…
    await expect.poll(async () => (await claudeRequests(claude(), user.name)).length).toBe(1);
    await expect
      .poll(async () => (await deepgramLog(deepgram(), signedIn.sessionId)).spoken)
      .toEqual([reply]);
    // …but nothing reaches the caller until EndOfTurn.
    expect(socket.events.slice(before).filter((e) => e !== "interim_transcript")).toEqual([]);
    const seen = await until(socket, "voice_metrics");
    expect(seen.find((m) => m.type === "transcript")).toMatchObject({
      entry: { role: "user", text: "when is my next meeting" },
    });
    const metrics = seen.at(-1) as ServerMessageOf<"voice_metrics">;
    expect(metrics.speculative).toBe(true);
    // The reply was ready when the turn ended: the caller waited for Flux, not for Claude or Aura.
    expect(metrics.endToEndMs).toBeGreaterThanOrEqual(metrics.endOfTurnDelayMs ?? 0);
    expect(metrics.endToEndMs).toBeLessThan(
      (metrics.endOfTurnDelayMs ?? 0) + (metrics.llmTtftMs ?? 0) + (metrics.ttsTtfbMs ?? 0) + 100,
    );
    await until(socket, "assistant_done");
    await expect.poll(() => audioBytes(socket)).toBe(ttsBytes(reply));
    expect(socket.events.indexOf("audio")).toBeGreaterThan(socket.events.indexOf("transcript"));
    socket.close();
  });

  it("takes a speculative reply back on TurnResumed: not shown, spoken, stored or remembered", async () => {
    const user = await createUser({ name: `Flux ${crypto.randomUUID().slice(0, 8)}` });
    const marker = crypto.randomUUID().slice(0, 8);
    await scriptClaude(claude(), user.name, [
      { kind: "text", text: `Which meeting do you mean, ${marker}?` },
      { kind: "text", text: "Booked with Bob for tomorrow." },
    ]);
    const { socket, signedIn } = await signIn(user.pin);
    await scriptDeepgram(deepgram(), signedIn.sessionId, [
      { text: "book a meeting", afterAudioMs: 200, eager: true, resumed: true },
      { text: "book a meeting with Bob tomorrow", afterAudioMs: 600, eager: true },
    ]);
    speak(socket, 240);
    await expect.poll(async () => (await claudeRequests(claude(), user.name)).length).toBe(1);
    speak(socket, 400); // the caller goes on: TurnResumed, then the whole turn
    const seen = await until(socket, "assistant_done");
    const done = seen.at(-1) as ServerMessageOf<"assistant_done">;
    expect(done.entry.text).toBe("Booked with Bob for tomorrow.");
    const shown = JSON.stringify(seen);
    expect(shown).not.toContain(marker);
    expect(seen.filter((m) => m.type === "transcript")).toEqual([
      expect.objectContaining({
        entry: expect.objectContaining({ text: "book a meeting with Bob tomorrow" }),
      }),
    ]);
    // Claude's second request knows only the whole turn.
    const requests = await claudeRequests(claude(), user.name);
    expect(requests).toHaveLength(2);
    const history = JSON.stringify(requests[1]?.body);
    expect(history).not.toContain(marker);
    expect(history).not.toContain('"text":"book a meeting"');
    // Postgres holds the committed turn only.
    await expect
      .poll(() => storedTurns(signedIn.sessionId))
      .toEqual([
        "user: book a meeting with Bob tomorrow",
        "assistant: Booked with Bob for tomorrow.",
      ]);
    await expect.poll(() => audioBytes(socket)).toBe(ttsBytes("Booked with Bob for tomorrow."));
    socket.close();
  });

  it("a typed message during a speculative reply takes it back; the spoken turn is still answered", async () => {
    const user = await createUser({ name: `Flux ${crypto.randomUUID().slice(0, 8)}` });
    const marker = crypto.randomUUID().slice(0, 8);
    await scriptClaude(claude(), user.name, [
      { kind: "text", text: `Speculative answer ${marker}.` },
      { kind: "text", text: "Answer to the typed message." },
      { kind: "text", text: "Answer to what was said." },
    ]);
    const { socket, signedIn } = await signIn(user.pin);
    await scriptDeepgram(
      deepgram(),
      signedIn.sessionId,
      [{ text: "read me my reminders", afterAudioMs: 200, eager: true }],
      { eagerDelayMs: 0, endOfTurnDelayMs: 800 },
    );
    speak(socket, 240);
    await expect.poll(async () => (await claudeRequests(claude(), user.name)).length).toBe(1);
    socket.send({ type: "user_text", id: "typed-1", text: "actually, what time is it" });
    const seen = [...(await until(socket, "assistant_done"))];
    expect((seen.at(-1) as ServerMessageOf<"assistant_done">).entry.text).toBe(
      "Answer to the typed message.",
    );
    // EndOfTurn comes after the speculation was taken back: the spoken turn runs afresh.
    for (;;) {
      const more = await until(socket, "assistant_done");
      seen.push(...more);
      const done = more.at(-1) as ServerMessageOf<"assistant_done">;
      if (done.entry.text === "Answer to what was said.") break;
    }
    expect(JSON.stringify(seen)).not.toContain(marker);
    expect(
      seen.flatMap((m) =>
        m.type === "transcript" && m.entry.role === "user" ? [m.entry.text] : [],
      ),
    ).toEqual(["actually, what time is it", "read me my reminders"]);
    const requests = await claudeRequests(claude(), user.name);
    expect(requests).toHaveLength(3);
    expect(JSON.stringify(requests[2]?.body)).not.toContain(marker);
    socket.close();
  });

  /** A caller asks for a todo on Flux; Claude's speculative answer asks for `create_todo`. */
  async function askForTodo(
    answer: string,
    utterances: Parameters<typeof scriptDeepgram>[2],
    options?: Parameters<typeof scriptDeepgram>[3],
  ) {
    const user = await createUser({ name: `Flux ${crypto.randomUUID().slice(0, 8)}` });
    await scriptClaude(claude(), user.name, [
      { kind: "tool_use", calls: [{ name: "create_todo", input: { title: "Renew the domain" } }] },
      { kind: "text", text: answer },
    ]);
    const { socket, signedIn } = await signIn(user.pin);
    await scriptDeepgram(deepgram(), signedIn.sessionId, utterances, options);
    speak(socket, 240);
    // The speculative call asks for the tool…
    await expect.poll(async () => (await claudeRequests(claude(), user.name)).length).toBe(1);
    const rows = () => db().select().from(todos).where(eq(todos.creatorId, user.id));
    return { user, socket, rows, requests: () => claudeRequests(claude(), user.name) };
  }
  /** Time enough for a tool to have run, and the model to have been asked again, had they not waited. */
  const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const ASKED = { text: "add a todo to renew the domain", afterAudioMs: 200, eager: true };

  it("a speculative reply runs no tool until the turn is certain: taken back, nothing was changed", async () => {
    const { socket, rows, requests } = await askForTodo("All right, I won't add anything.", [
      { ...ASKED, resumed: true },
      { text: "add a todo to renew the domain no wait never mind", afterAudioMs: 600, eager: true },
    ]);
    // …and while the turn is uncertain, it is not run.
    await settle(300);
    expect(await rows()).toEqual([]);
    speak(socket, 400); // the caller goes on: TurnResumed, then the whole turn
    const seen = await until(socket, "assistant_done");
    const done = seen.at(-1) as ServerMessageOf<"assistant_done">;
    expect(done.entry.text).toBe("All right, I won't add anything.");
    expect(seen.filter((m) => m.type === "tool_activity")).toEqual([]);
    expect(await rows()).toEqual([]);
    const sent = await requests();
    expect(sent).toHaveLength(2);
    expect(JSON.stringify(sent[1]?.body)).not.toContain("tool_use");
    socket.close();
  });

  it("a speculative reply's tool runs once EndOfTurn makes the turn certain", async () => {
    const { socket, rows, requests } = await askForTodo("Added: renew the domain.", [ASKED], {
      eagerDelayMs: 0,
      endOfTurnDelayMs: 2_000,
    });
    // …which waits: no row until EndOfTurn, 2 s on.
    await settle(300);
    expect(await rows()).toEqual([]);
    const seen = await until(socket, "assistant_done");
    expect((seen.at(-1) as ServerMessageOf<"assistant_done">).entry.text).toBe(
      "Added: renew the domain.",
    );
    expect(
      seen.flatMap((m) => (m.type === "tool_activity" ? [`${m.tool} ${m.status}`] : [])),
    ).toEqual(["create_todo started", "create_todo done"]);
    expect((await rows()).map((r) => r.title)).toEqual(["Renew the domain"]);
    expect(seen.find((m) => m.type === "voice_metrics")).toMatchObject({ speculative: true });
    expect(await requests()).toHaveLength(2);
    socket.close();
  });

  it("a speculative reply whose caller hangs up before EndOfTurn runs its tool no more and asks Claude no more", async () => {
    const { socket, rows, requests } = await askForTodo("Added it.", [ASKED], {
      eagerDelayMs: 0,
      endOfTurnDelayMs: 2_000,
    });
    socket.close();
    await settle(500);
    expect(await requests()).toHaveLength(1);
    expect(await rows()).toEqual([]);
  });
});
