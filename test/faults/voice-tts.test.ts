/**
 * The assistant's voice failing, end to end through the CallSession and the fake Aura: refused,
 * silent (no first byte), dropped mid-sentence, a `Warning`, and a sentence over Aura's 2 000
 * characters. Whatever fails, the reply arrives as text with `assistant_done` as usual, the caller
 * hears the apology clip (and the page says why), nothing waits past the deadline (1.5 s in the
 * tests), and the next turn is spoken again.
 */
import { describe, expect, inject, it } from "vitest";
import { VOICE_LOST } from "../../durable-objects/voice-session.ts";
import { APOLOGY_TEXT } from "../../voice/apology-clip.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { deepgramLog, paceDeepgramTts, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { signIn } from "../workers/support/session-socket.ts";
import { createUser } from "../workers/support/users.ts";
import { audioBytes, ttsBytes } from "../workers/support/voice.ts";
import { PageLog, speakStamped } from "./support/voice-caller.ts";

const deepgram = () => inject("deepgramBaseUrl");
const claude = () => inject("anthropicBaseUrl");
const asked = "what is on my list today";
const thanks = "thank you very much";

/**
 * A caller who will say `asked`, then `thanks`; Claude answers with `replies`. The voice is
 * started first, so the apology clip has been made before anything can fail; the caller's first
 * word comes after that (Aura's socket opens as they start speaking: a test's fault is armed
 * before it).
 */
async function caller(replies: string[]) {
  const user = await createUser({ name: `Voice ${crypto.randomUUID().slice(0, 8)}` });
  await scriptClaude(
    claude(),
    user.name,
    replies.map((text) => ({ kind: "text" as const, text })),
  );
  const { socket, signedIn } = await signIn(user.pin);
  const session = signedIn.sessionId;
  await scriptDeepgram(deepgram(), session, [
    { text: asked, afterAudioMs: 1_700 },
    { text: thanks, afterAudioMs: 2_900 },
  ]);
  speakStamped(socket, 100);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const page = new PageLog(socket);
  /** Says the next line and reads the page until its reply is done; returns how long that took. */
  const turn = async (ms: number, said: string) => {
    speakStamped(socket, ms);
    await page.until("transcript", (m) => m.entry.text === said);
    const heardAt = Date.now();
    const done = await page.until("assistant_done");
    return { done, tookMs: Date.now() - heardAt };
  };
  return { socket, session, page, turn };
}

/** A word no other test's text contains, to script Aura for one sentence. */
const newMarker = () => `m${crypto.randomUUID().slice(0, 8)}`;

const bytesAt = (ms: number) => ms * 32;

describe("speech synthesis faults", () => {
  it("Aura refused: the reply arrives as text, the caller hears the apology, the next turn is spoken", async () => {
    const reply = "Your list has three things on it today.";
    const next = "You're welcome.";
    const { socket, session, page, turn } = await caller([reply, next]);
    // Refused twice: the socket opened early while the caller speaks, and the reply's own try.
    await paceDeepgramTts(deepgram(), { session, refuse: 503, times: 2 });
    const first = await turn(1_600, asked);
    expect(first.done.entry.text).toBe(reply);
    expect(first.done.interrupted).toBe(false);
    expect(page.notices("speech_unavailable")).toMatchObject([{ text: VOICE_LOST }]);
    await expect.poll(() => audioBytes(socket)).toBe(ttsBytes(APOLOGY_TEXT));
    // Aura is back: the next reply is heard.
    const second = await turn(1_200, thanks);
    expect(second.done.entry.text).toBe(next);
    await expect.poll(() => audioBytes(socket)).toBe(ttsBytes(APOLOGY_TEXT) + ttsBytes(next));
    expect(page.notices("speech_unavailable")).toHaveLength(1);
    socket.close();
  });

  it("Aura silent (first byte never comes): the deadline ends the wait, the reply is text, the apology heard", async () => {
    const marker = newMarker();
    const opening = "Let me look that up.";
    const reply = `${opening} The answer, ${marker}, is forty two.`;
    const next = "Glad to help.";
    const { socket, session, page, turn } = await caller([reply, next]);
    await paceDeepgramTts(deepgram(), { match: marker, firstByteMs: 60_000 });
    const first = await turn(1_600, asked);
    expect(first.done.entry.text).toBe(reply);
    // 1.5 s for the deadline, about 0.7 s for the apology to play: not until the caller speaks.
    expect(first.tookMs).toBeLessThan(4_000);
    expect(page.notices("speech_unavailable")).toHaveLength(1);
    await expect.poll(() => audioBytes(socket)).toBe(ttsBytes(opening) + ttsBytes(APOLOGY_TEXT));
    // The silent socket was let go; the next reply goes out on a new one.
    const second = await turn(1_200, thanks);
    expect(second.done.entry.text).toBe(next);
    await expect
      .poll(() => audioBytes(socket))
      .toBe(ttsBytes(opening) + ttsBytes(APOLOGY_TEXT) + ttsBytes(next));
    expect((await deepgramLog(deepgram(), session)).spoken).toContain(next);
    socket.close();
  });

  it("Aura dropped mid-sentence: the rest of the reply is text, the apology follows, the next turn is spoken", async () => {
    const marker = newMarker();
    const whole = "The first sentence plays in full.";
    const cut = `The second one, ${marker}, is cut off halfway.`;
    const never = "And the third is never spoken.";
    const next = "You're welcome.";
    const { socket, session, page, turn } = await caller([`${whole} ${cut} ${never}`, next]);
    await paceDeepgramTts(deepgram(), { match: marker, dropAfterMs: 200, chunkMs: 5 });
    const first = await turn(1_600, asked);
    expect(first.done.entry.text).toBe(`${whole} ${cut} ${never}`);
    expect(page.notices("speech_unavailable")).toHaveLength(1);
    await expect
      .poll(() => audioBytes(socket))
      .toBe(ttsBytes(whole) + bytesAt(200) + ttsBytes(APOLOGY_TEXT));
    expect((await deepgramLog(deepgram(), session)).spoken).toEqual([whole, cut]);
    const second = await turn(1_200, thanks);
    expect(second.done.entry.text).toBe(next);
    await expect
      .poll(() => audioBytes(socket))
      .toBe(ttsBytes(whole) + bytesAt(200) + ttsBytes(APOLOGY_TEXT) + ttsBytes(next));
    socket.close();
  });

  it("Aura Warning: the sentence fails like an error — apology, notice, the reply as text", async () => {
    const marker = newMarker();
    const fine = "Here is the first part of it.";
    const warned = `This part, ${marker}, draws a warning.`;
    const rest = "And this is the rest.";
    const { socket, session, page, turn } = await caller([`${fine} ${warned} ${rest}`]);
    await paceDeepgramTts(deepgram(), { match: marker, warning: "Unsupported characters." });
    const first = await turn(1_600, asked);
    expect(first.done.entry.text).toBe(`${fine} ${warned} ${rest}`);
    expect(page.notices("speech_unavailable")).toHaveLength(1);
    // Not a silent gap passed off as speech: the caller hears the apology where it failed.
    await expect.poll(() => audioBytes(socket)).toBe(ttsBytes(fine) + ttsBytes(APOLOGY_TEXT));
    expect((await deepgramLog(deepgram(), session)).spoken).toEqual([fine, warned]);
    socket.close();
  });

  it("a sentence over Aura's 2 000 characters is split at clause boundaries and spoken in full", async () => {
    const items = Array.from({ length: 130 }, (_, i) => `item ${i + 1} to renew`);
    const reply = `Your list has ${items.join(", ")}.`;
    expect(reply.length).toBeGreaterThan(2_000);
    const { socket, session, page, turn } = await caller([reply]);
    // A fast voice for this call, so the long reply plays in about 2.4 s.
    await paceDeepgramTts(deepgram(), { session, msPerChar: 1 });
    const first = await turn(1_600, asked);
    expect(first.done.entry.text).toBe(reply);
    const spoken = (await deepgramLog(deepgram(), session)).spoken;
    // At least two pieces (the first may be an early first clause: sentence-chunker.ts), each
    // within Aura's limit and ending at a clause.
    expect(spoken.length).toBeGreaterThanOrEqual(2);
    for (const piece of spoken) expect(piece.length).toBeLessThanOrEqual(2_000);
    for (const piece of spoken.slice(0, -1)) expect(piece).toMatch(/to renew,$/);
    expect(spoken.join(" ")).toBe(reply);
    await expect
      .poll(() => audioBytes(socket))
      .toBe(spoken.reduce((n, piece) => n + piece.length * 32, 0));
    expect(page.notices("speech_unavailable")).toEqual([]);
    socket.close();
  });
});
