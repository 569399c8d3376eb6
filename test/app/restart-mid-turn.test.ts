/**
 * The runtime restarting under a caller (`npm start` stopped and started again on the same port
 * with the same Durable Object storage, as a crash or a deploy does): while a reply is streaming,
 * after a tool has run, and while the greeting plays. Goals: the session can be resumed with its
 * token within its window; the conversation is intact — the transcript the page gets back holds
 * what was said, the model's history sent on the next turn has no tool_use without its
 * tool_result (nor the reverse), and the next turn is answered; and the caller is in a clear
 * state — nothing half-done is played again, no greeting twice; a turn the restart cut is said
 * to be lost, and the model keeps what the caller had asked.
 */
import { describe, expect, it } from "vitest";
import { claudeRequests, scriptClaude } from "../fakes/anthropic/client.ts";
import { paceDeepgramTts } from "../fakes/deepgram/client.ts";
import { NodeCaller } from "../support/node-caller.ts";
import { useTransferApp } from "../transfer/support/transfer-app.ts";

const app = useTransferApp();

// Seeded demo callers (scripts/seed.ts): one per test, so their scripts do not meet.
const ALICE = { pin: "1234", name: "Alice Nguyen" };
const BOB = { pin: "5678", name: "Bob Okafor" };

type Block = { type: string; id?: string; tool_use_id?: string };
type Message = { role: string; content: string | Block[] };

/** Every tool_use answered by a tool_result in the next message, and no tool_result unasked. */
function brokenToolPairs(messages: Message[]): string[] {
  const problems: string[] = [];
  const blocks = (m: Message | undefined) => (Array.isArray(m?.content) ? m.content : []);
  messages.forEach((message, i) => {
    const uses = blocks(message).flatMap((b) => (b.type === "tool_use" ? [b.id] : []));
    const answered = new Set(
      blocks(messages[i + 1]).flatMap((b) => (b.type === "tool_result" ? [b.tool_use_id] : [])),
    );
    for (const id of uses) if (!answered.has(id)) problems.push(`tool_use ${id} unanswered`);
    const asked = new Set(
      blocks(messages[i - 1]).flatMap((b) => (b.type === "tool_use" ? [b.id] : [])),
    );
    for (const b of blocks(message))
      if (b.type === "tool_result" && !asked.has(b.tool_use_id))
        problems.push(`tool_result ${b.tool_use_id} without its tool_use`);
  });
  return problems;
}

const lastRequest = async (match: string) => {
  const requests = await claudeRequests(app.anthropic, match);
  return (requests.at(-1)?.body ?? { messages: [] }) as { messages: Message[] };
};

describe("a restart of the runtime mid-turn and mid-greeting", () => {
  it("mid-reply, after a tool ran: resumable, the caller's words kept, no broken tool_use/tool_result in the model's history, the next turn answered", async () => {
    const ref = `r${crypto.randomUUID().slice(0, 6)}`;
    const slow = "Your todo is saved and I will keep reading you a long answer word by word. ";
    await scriptClaude(app.anthropic, ref, [
      { kind: "tool_use", calls: [{ name: "create_todo", input: { title: `Buy milk ${ref}` } }] },
      // Streams for about ten seconds: the restart comes in the middle of it.
      { kind: "text", text: slow.repeat(4), latency: { chunkMs: 200 } },
      { kind: "text", text: "Yes, I'm still here." },
    ]);
    const { caller, signedIn } = await NodeCaller.signIn(app.url, ALICE.pin);
    caller.say(`Add buy milk to my list ${ref}`);
    await caller.until("tool_activity", (m) => m.status === "done");
    await caller.until("assistant_delta");
    caller.ws.close();
    await app.restart();

    const back = await NodeCaller.resume(app.url, signedIn.sessionId, signedIn.resumeToken);
    expect(back.signedIn.resumed).toBe(true);
    // What the caller said is kept; the reply cut by the restart is not replayed as if whole.
    const said = back.signedIn.transcript.filter((e) => e.role === "user").map((e) => e.text);
    expect(said).toEqual([`Add buy milk to my list ${ref}`]);
    const replies = back.signedIn.transcript.filter((e) => e.role === "assistant");
    for (const reply of replies) expect(reply.text).not.toBe(slow.repeat(4).trim());
    // Nothing of the old turn goes on arriving on the new connection.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(back.caller.log.filter((m) => m.type === "assistant_delta")).toEqual([]);

    back.caller.say(`Are you still there? ${ref}`);
    const done = await back.caller.until("assistant_done", () => true, 15_000);
    expect(done.entry.text).toBe("Yes, I'm still here.");
    expect(done.interrupted).toBe(false);
    const history = (await lastRequest(ref)).messages;
    expect(brokenToolPairs(history)).toEqual([]);
    expect(history.at(-1)).toMatchObject({ role: "user" });
    back.caller.close();
  }, 90_000);

  // The model's history is checkpointed once, when a turn ends (`durability: "exit"`), so a turn
  // cut by a restart leaves only the note of what the caller said (`turnInFlight`).
  it("mid-reply: the caller is told the answer was lost, and the model knows what they had asked", async () => {
    const ref = `k${crypto.randomUUID().slice(0, 6)}`;
    await scriptClaude(app.anthropic, ref, [
      { kind: "tool_use", calls: [{ name: "create_todo", input: { title: `Call Dan ${ref}` } }] },
      { kind: "text", text: "Saved. ".repeat(30), latency: { chunkMs: 200 } },
      { kind: "text", text: "You asked me to add a todo." },
    ]);
    const { caller, signedIn } = await NodeCaller.signIn(app.url, ALICE.pin);
    caller.say(`Add call Dan to my list ${ref}`);
    await caller.until("assistant_delta");
    caller.ws.close();
    await app.restart();
    const back = await NodeCaller.resume(app.url, signedIn.sessionId, signedIn.resumeToken);
    const sorry = await back.caller.until("transcript", (m) => m.entry.role === "assistant");
    expect(sorry.entry.text).toMatch(/lost my train of thought.*say that again/);
    back.caller.say(`What did I just ask? ${ref}`);
    await back.caller.until("assistant_done", () => true, 15_000);
    const messages = (await lastRequest(ref)).messages;
    back.caller.close();
    const history = JSON.stringify(messages);
    expect(history).toContain(`Add call Dan to my list ${ref}`);
    expect(history).toMatch(/the service restarted while you were answering the caller/);
    expect(brokenToolPairs(messages)).toEqual([]);
  }, 90_000);

  it("mid-greeting: resumable, the greeting in the transcript once and not played again, the next turn answered", async () => {
    // The greeting's voice comes slowly, so the restart falls while it plays.
    await paceDeepgramTts(app.deepgram, { match: "Bob", chunkMs: 200, msPerChar: 60 });
    const ref = `g${crypto.randomUUID().slice(0, 6)}`;
    await scriptClaude(app.anthropic, ref, [{ kind: "text", text: "Good morning to you too." }]);
    const { caller, signedIn } = await NodeCaller.signIn(app.url, BOB.pin);
    caller.send({ type: "audio_ready" });
    const greeting = await caller.until("transcript", (m) => m.entry.role === "assistant");
    expect(greeting.entry.text).toContain("Bob");
    // Wait for the greeting's first audio, then stop the runtime under it.
    const started = Date.now();
    while (!caller.audio.length && Date.now() - started < 10_000)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(caller.audio.length).toBeGreaterThan(0);
    caller.ws.close();
    await app.restart();

    const back = await NodeCaller.resume(app.url, signedIn.sessionId, signedIn.resumeToken);
    expect(back.signedIn.resumed).toBe(true);
    const greetings = back.signedIn.transcript.filter((e) => e.text === greeting.entry.text);
    expect(greetings).toHaveLength(1);
    // The page can play audio again: the greeting is not said a second time.
    back.caller.send({ type: "audio_ready" });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(
      back.caller.log.filter((m) => m.type === "transcript" && m.entry.role === "assistant"),
    ).toEqual([]);
    expect(back.caller.log.filter((m) => m.type === "error")).toEqual([]);

    back.caller.say(`Good morning ${ref}`);
    const done = await back.caller.until("assistant_done", () => true, 15_000);
    expect(done.entry.text).toBe("Good morning to you too.");
    const history = (await lastRequest(ref)).messages;
    expect(brokenToolPairs(history)).toEqual([]);
    back.caller.close();
  }, 90_000);
});
