/**
 * Claude failing under a turn, end to end through the CallSession and the fake Anthropic API:
 * 429, 529, 500, a stream cut before any text, a stream that stalls. The page is told once that
 * the assistant is retrying; if Claude stays down, an apology comes within the retry budget
 * (8 s, plus one stall's idle deadline of 1.5 s in the tests) and the next turn is answered. On a
 * call, a retry that keeps the caller waiting long is said aloud ("One moment, please.").
 */
import { describe, expect, inject, it } from "vitest";
import { RETRYING_NOTICE } from "../../durable-objects/conversation.ts";
import { HOLD_ON_TEXT } from "../../durable-objects/voice-turn.ts";
import { claudeRequests, type Step, scriptClaude } from "../fakes/anthropic/client.ts";
import { deepgramLog, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { signIn } from "../workers/support/session-socket.ts";
import { createUser } from "../workers/support/users.ts";
import { audioBytes, ttsBytes } from "../workers/support/voice.ts";
import { PageLog, speakStamped } from "./support/voice-caller.ts";

const claude = () => inject("anthropicBaseUrl");
const deepgram = () => inject("deepgramBaseUrl");
/** The retry budget, and one stalled attempt's idle deadline (test binding) on top. */
const APOLOGY_WITHIN_MS = 8_000 + 1_500;

async function caller(steps: Step[]) {
  const user = await createUser({ name: `Claude ${crypto.randomUUID().slice(0, 8)}` });
  await scriptClaude(claude(), user.name, steps);
  const { socket, signedIn } = await signIn(user.pin);
  const page = new PageLog(socket);
  const say = async (text: string) => {
    const sentAt = Date.now();
    socket.send({ type: "user_text", id: crypto.randomUUID().slice(0, 12), text });
    const done = await page.until("assistant_done", () => true, 15_000);
    return { done, tookMs: Date.now() - sentAt };
  };
  return { user, socket, session: signedIn.sessionId, page, say };
}

const faults: [string, Step][] = [
  ["429 rate limited", { kind: "error", status: 429 }],
  ["529 overloaded", { kind: "error", status: 529 }],
  ["500 server error", { kind: "error", status: 500 }],
  ["a stream cut before any text", { kind: "cut", text: "never said", afterChunks: 0 }],
  ["a stream that stalls", { kind: "text", text: "too late", latency: { firstTokenMs: 5_000 } }],
];

describe("Claude faults", () => {
  for (const [name, fault] of faults) {
    it(`Claude ${name}: the page hears "retrying" once, an apology comes within the budget, the next turn is answered`, async () => {
      const { user, socket, page, say } = await caller([
        fault,
        fault,
        fault,
        fault,
        { kind: "text", text: "Back again." },
      ]);
      const failed = await say("hello?");
      expect(failed.done.entry.text).toMatch(/^Sorry, I'm having trouble/);
      expect(failed.tookMs).toBeLessThan(APOLOGY_WITHIN_MS);
      expect(page.notices("retrying")).toMatchObject([{ level: "info", text: RETRYING_NOTICE }]);
      // Told before the apology, not after.
      const told = page.messages.findIndex((m) => m.type === "notice");
      expect(told).toBeLessThan(page.messages.indexOf(failed.done));
      expect((await claudeRequests(claude(), user.name)).length).toBe(4);
      const next = await say("and now?");
      expect(next.done.entry.text).toBe("Back again.");
      expect(page.notices("retrying")).toHaveLength(1);
      socket.close();
    }, 30_000);
  }

  it("on a call, a retry after a long silence is said aloud; a quick one only shown", async () => {
    const reply = "Here you go.";
    const { socket, session, page } = await caller([
      { kind: "text", text: "too late", latency: { firstTokenMs: 5_000 } },
      { kind: "text", text: reply },
      { kind: "error", status: 429 },
      { kind: "text", text: "Quick answer." },
    ]);
    await scriptDeepgram(deepgram(), session, [
      { text: "read me my reminders", afterAudioMs: 400 },
      { text: "and my todos please", afterAudioMs: 1_400 },
    ]);
    speakStamped(socket, 500);
    await page.until("assistant_done", (m) => m.entry.text === reply, 10_000);
    expect(page.notices("retrying")).toHaveLength(1);
    // 1.5 s of silence (the stall's deadline) before the retry: the caller heard why.
    expect((await deepgramLog(deepgram(), session)).spoken).toEqual([HOLD_ON_TEXT, reply]);
    await expect.poll(() => audioBytes(socket)).toBe(ttsBytes(HOLD_ON_TEXT) + ttsBytes(reply));
    speakStamped(socket, 1_000);
    await page.until("assistant_done", (m) => m.entry.text === "Quick answer.");
    expect(page.notices("retrying")).toHaveLength(2);
    expect((await deepgramLog(deepgram(), session)).spoken).toEqual([
      HOLD_ON_TEXT,
      reply,
      "Quick answer.",
    ]);
    socket.close();
  }, 20_000);
});
