/**
 * Speech recognition failing under a caller, end to end through the CallSession and the fake
 * Deepgram: what the caller experiences when Deepgram drops the socket, refuses it, goes silent,
 * or is gone for ten seconds mid-sentence — and when it does not come back. The caller's audio
 * is stamped, so the fake hears exactly the audio each socket was sent: a word lost or heard twice
 * shows in the transcript. (Test bindings: reconnect backoff ≤ 2 s, silence deadline 1.5 s, give
 * up after 15 s.)
 */
import { describe, expect, inject, it } from "vitest";
import { HEARING_LOST, HEARING_TROUBLE } from "../../durable-objects/voice-session.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { deepgramLog, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { signIn } from "../workers/support/session-socket.ts";
import { createUser } from "../workers/support/users.ts";
import { PageLog, speakLive, speakStamped } from "./support/voice-caller.ts";

const deepgram = () => inject("deepgramBaseUrl");
const claude = () => inject("anthropicBaseUrl");

/** A signed-in caller whose turns Claude answers with `replies`. */
async function caller(replies: string[]) {
  const user = await createUser({ name: `Ears ${crypto.randomUUID().slice(0, 8)}` });
  await scriptClaude(
    claude(),
    user.name,
    replies.map((text) => ({ kind: "text" as const, text })),
  );
  const { socket, signedIn } = await signIn(user.pin);
  return { socket, session: signedIn.sessionId, page: new PageLog(socket) };
}

const refusedAttempts = async (session: string) =>
  (await deepgramLog(deepgram(), session)).attempts.filter((a) => a.status !== 101);

describe("speech recognition faults", () => {
  it("Deepgram dropped mid-utterance: reopened at once, every word arrives once, no notice", async () => {
    const { socket, session, page } = await caller(["Timer set.", "Sure."]);
    const first = "what time is it";
    const second = "set a timer for ten minutes please";
    await scriptDeepgram(
      deepgram(),
      session,
      [
        { text: first, afterAudioMs: 800 },
        // Spoken from 1.15 s to 2.9 s; the socket drops at 1.9 s, in the middle of it.
        { text: second, afterAudioMs: 2_900 },
      ],
      { dropAfterAudioMs: 1_900 },
    );
    speakStamped(socket, 1_000);
    await page.until("transcript", (m) => m.entry.text === first);
    speakStamped(socket, 2_200);
    await page.until("transcript", (m) => m.entry.text === second);
    await page.until("assistant_done", (m) => m.entry.text === "Sure.");
    // The first sentence was final before the drop: not sent again, not heard twice.
    expect(page.said()).toEqual([first, second]);
    const log = await deepgramLog(deepgram(), session);
    expect(log.connections).toHaveLength(2);
    // Sent again from where the first sentence was final (0.8 s) to the end: 2.4 s, no more.
    expect(log.connections[1]?.audioMs).toBe(3_200 - 800);
    expect(page.notices("audio_reconnecting")).toEqual([]);
    expect(page.errors()).toEqual([]);
    socket.close();
  });

  it("Deepgram refused for a moment: the caller is told once, attempts back off, every word arrives once", async () => {
    const { socket, session, page } = await caller(["Added."]);
    const said = "add call the plumber to my list";
    await scriptDeepgram(deepgram(), session, [{ text: said, afterAudioMs: 1_800 }], {
      outageMs: 1_500,
    });
    await speakLive(socket, 2_200);
    await page.until("transcript", (m) => m.entry.text === said);
    await page.until("assistant_done");
    expect(page.said()).toEqual([said]);
    expect(page.notices("audio_reconnecting")).toMatchObject([{ text: HEARING_TROUBLE }]);
    expect(page.errors()).toEqual([]);
    // 22 frames a second arrived meanwhile; attempts were paced by the backoff, not by them.
    const refused = await refusedAttempts(session);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThanOrEqual(8);
    // Said aloud too, the voice being fine.
    expect((await deepgramLog(deepgram(), session)).spoken).toContain(HEARING_TROUBLE);
    socket.close();
  });

  it("Deepgram silent: a socket that never answers is reopened, the caller told once, every word arrives once", async () => {
    const { socket, session, page } = await caller(["Done."]);
    const said = "cancel my dentist appointment";
    await scriptDeepgram(deepgram(), session, [{ text: said, afterAudioMs: 1_000 }], {
      silentConnections: 1,
    });
    // The first socket takes the audio and says nothing; 1.5 s later it is given up.
    await speakLive(socket, 2_500);
    await page.until("transcript", (m) => m.entry.text === said);
    await page.until("assistant_done");
    expect(page.said()).toEqual([said]);
    expect(page.notices("audio_reconnecting")).toHaveLength(1);
    const log = await deepgramLog(deepgram(), session);
    expect(log.connections).toHaveLength(2);
    expect(log.connections[0]?.closedByClient).toBe(true);
    socket.close();
  });

  it("Deepgram out for 10 s mid-utterance: every word arrives, once; one notice, not a flood; attempts bounded", async () => {
    const { socket, session, page } = await caller(["Added oat milk, eggs and coffee."]);
    const said = "please add oat milk eggs and coffee to my shopping list for tomorrow morning";
    // The sentence runs from 1.5 s to 5 s of the caller's audio; the socket drops at 2.5 s and
    // every connection is refused for the next 10 s while the caller goes on talking.
    await scriptDeepgram(deepgram(), session, [{ text: said, afterAudioMs: 5_000 }], {
      dropAfterAudioMs: 2_500,
      outageMs: 10_000,
    });
    speakStamped(socket, 2_500);
    await page.until("notice", (m) => m.code === "audio_reconnecting");
    await speakLive(socket, 11_000);
    const heard = await page.until("transcript", (m) => m.entry.role === "user", 6_000);
    expect(heard.entry.text).toBe(said);
    await page.until("assistant_done");
    expect(page.said()).toEqual([said]);
    expect(page.notices("audio_reconnecting")).toHaveLength(1);
    expect(page.errors()).toEqual([]);
    // About 550 frames arrived during the outage: the attempts were a backoff's dozen at most.
    const refused = await refusedAttempts(session);
    expect(refused.length).toBeGreaterThanOrEqual(4);
    expect(refused.length).toBeLessThanOrEqual(16);
    const gaps = refused.slice(2).map((a, i) => a.at - (refused[i + 1]?.at ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100);
    const log = await deepgramLog(deepgram(), session);
    expect(log.connections).toHaveLength(2);
    // The new socket was sent everything since the last final word: all 13.5 s.
    expect(log.connections[1]?.audioMs).toBeGreaterThanOrEqual(13_000);
    socket.close();
  }, 40_000);

  it("Deepgram refused for good: told once, attempts bounded, then asked to type — and typing works", async () => {
    const { socket, session, page } = await caller(["Typed and answered."]);
    await scriptDeepgram(deepgram(), session, [{ text: "hello", afterAudioMs: 500 }], {
      outageMs: 120_000,
    });
    // The microphone streams all along, as a page's does.
    let talking = true;
    const microphone = (async () => {
      while (talking) await speakLive(socket, 100);
    })();
    const gaveUp = await page.until("error", () => true, 20_000);
    expect(gaveUp).toMatchObject({
      code: "audio_unavailable",
      message: HEARING_LOST,
      fatal: false,
    });
    expect(page.notices("audio_reconnecting")).toHaveLength(1);
    const attempts = (await refusedAttempts(session)).length;
    expect(attempts).toBeLessThanOrEqual(16);
    // Audio that goes on arriving after (until the page stops its microphone) starts nothing.
    await new Promise((resolve) => setTimeout(resolve, 500));
    talking = false;
    await microphone;
    socket.send({ type: "user_text", id: "typed-1", text: "can you read this?" });
    const done = await page.until("assistant_done");
    expect(done.entry.text).toBe("Typed and answered.");
    expect((await refusedAttempts(session)).length).toBe(attempts);
    expect(page.errors()).toHaveLength(1);
    socket.close();
  }, 30_000);
});
