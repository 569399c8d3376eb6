/**
 * Spoken turns through the real CallSession: caller audio → fake Deepgram STT → the agent
 * (fake Claude) → fake Aura TTS → assistant audio frames back on the caller's socket.
 */
import { describe, expect, inject, it } from "vitest";
import {
  AudioFrameKind,
  CALLER_FRAME_BYTES,
  decodeAudioFrame,
  encodeAudioFrame,
} from "../../protocol/audio-frame.ts";
import { claudeRequests, scriptClaude } from "../fakes/anthropic/client.ts";
import { deepgramLog, paceDeepgramTts, scriptDeepgram } from "../fakes/deepgram/client.ts";
import type { SessionSocket } from "./support/session-socket.ts";
import { signIn } from "./support/session-socket.ts";
import { createUser } from "./support/users.ts";

const deepgram = () => inject("deepgramBaseUrl");
const claude = () => inject("anthropicBaseUrl");

let seq = 0;
function speak(socket: SessionSocket, ms: number) {
  for (let i = 0; i < ms / 20; i++) {
    seq = (seq + 1) & 0xffff;
    socket.ws.send(
      encodeAudioFrame(AudioFrameKind.CallerPcm16k, seq, new Uint8Array(CALLER_FRAME_BYTES)),
    );
  }
}

/** Reads messages until one of `type` arrives; returns everything read on the way. */
async function until(socket: SessionSocket, type: string, timeoutMs = 10_000) {
  const seen = [];
  for (;;) {
    const message = await socket.nextAny(timeoutMs);
    seen.push(message);
    if (message.type === type) return seen;
  }
}

/** Bytes of audio the fake speaks for a text: 10 ms per character at 16 kHz, 16-bit. */
const ttsBytes = (text: string) => Math.round((text.length * 10 * 16_000) / 1000) * 2;

describe("voice", () => {
  it("a spoken turn: audio in, transcript, streamed reply, audio out, with metrics", async () => {
    const user = await createUser({ name: `Voice ${crypto.randomUUID().slice(0, 8)}` });
    const reply = "Sure, I can help with that. What would you like to add?";
    await scriptClaude(claude(), user.name, [{ kind: "text", text: reply }]);
    const { socket, signedIn } = await signIn(user.pin);
    await scriptDeepgram(deepgram(), signedIn.sessionId, [
      { text: "hello there assistant", afterAudioMs: 300 },
    ]);

    speak(socket, 400);
    const heard = await until(socket, "transcript");
    expect(heard.filter((m) => m.type === "interim_transcript").length).toBeGreaterThan(0);
    expect(heard.at(-1)).toMatchObject({ entry: { role: "user", text: "hello there assistant" } });
    const rest = await until(socket, "voice_metrics");
    const metrics = rest.at(-1);
    expect(metrics?.type === "voice_metrics" && metrics.endToEndMs).toBeGreaterThanOrEqual(0);
    await expect
      .poll(() => socket.audio.reduce((n, f) => n + f.byteLength - 4, 0))
      .toBe(ttsBytes("Sure, I can help with that.") + ttsBytes("What would you like to add?"));
    for (const frame of socket.audio) {
      const decoded = decodeAudioFrame(frame);
      expect(decoded.ok && decoded.frame.kind).toBe(AudioFrameKind.AssistantPcm);
    }
    // Both sentences went to TTS separately, the first before the model had finished.
    const spoken = (await deepgramLog(deepgram(), signedIn.sessionId)).spoken;
    expect(spoken).toEqual(
      expect.arrayContaining(["Sure, I can help with that.", "What would you like to add?"]),
    );
    expect((await deepgramLog(deepgram(), signedIn.sessionId)).connections[0]?.audioMs).toBe(400);
    socket.close();
  });

  it("a dropped Deepgram socket is reopened and hears again what was not final: no words lost", async () => {
    const user = await createUser({ name: `Voice ${crypto.randomUUID().slice(0, 8)}` });
    await scriptClaude(claude(), user.name, [{ kind: "text", text: "Booked for Friday." }]);
    const { socket, signedIn } = await signIn(user.pin);
    // The utterance needs 500 ms of audio; the first socket drops after 300 ms.
    await scriptDeepgram(
      deepgram(),
      signedIn.sessionId,
      [{ text: "book the dentist for friday", afterAudioMs: 500 }],
      {
        dropAfterAudioMs: 300,
      },
    );
    speak(socket, 400);
    await expect
      .poll(async () => (await deepgramLog(deepgram(), signedIn.sessionId)).connections.length)
      .toBe(2);
    speak(socket, 200);
    const heard = await until(socket, "transcript");
    expect(heard.at(-1)).toMatchObject({
      entry: { role: "user", text: "book the dentist for friday" },
    });
    const [first, second] = (await deepgramLog(deepgram(), signedIn.sessionId)).connections;
    expect(first?.audioMs).toBe(300);
    // Everything since the last final word was sent again, then the rest.
    expect(second?.audioMs).toBe(600);
    await until(socket, "assistant_done");
    socket.close();
  });

  it("barge-in stops the assistant at once; a lone 'mm-hm' does not", async () => {
    const user = await createUser({ name: `Voice ${crypto.randomUUID().slice(0, 8)}` });
    const marker = crypto.randomUUID().slice(0, 8);
    const long = `You have five todos for today. The first is renewing the domain, ${marker}. The second is buying milk.`;
    await scriptClaude(claude(), user.name, [
      { kind: "text", text: long },
      { kind: "text", text: "Okay, stopping." },
    ]);
    // The second sentence is spoken slowly, so there is time to speak over it.
    await paceDeepgramTts(deepgram(), { match: marker, chunkMs: 20, msPerChar: 40 });
    const { socket, signedIn } = await signIn(user.pin);
    await scriptDeepgram(deepgram(), signedIn.sessionId, [
      { text: "what do I have today", afterAudioMs: 200 },
      { text: "mm-hm", afterAudioMs: 600 },
      { text: "stop please", afterAudioMs: 1000 },
    ]);
    speak(socket, 300);
    await until(socket, "voice_metrics");
    // The first sentence has been sent in full; the second is still being spoken.
    await expect
      .poll(() => socket.audio.reduce((n, f) => n + f.byteLength - 4, 0))
      .toBeGreaterThan(ttsBytes("You have five todos for today."));
    speak(socket, 400); // "mm-hm": the assistant keeps talking
    await expect
      .poll(async () => (await deepgramLog(deepgram(), signedIn.sessionId)).connections[0]?.audioMs)
      .toBe(700);
    const before = socket.events.length;
    speak(socket, 400); // "stop please"
    await until(socket, "playback_clear");
    const cleared = socket.events.lastIndexOf("playback_clear");
    // "mm-hm" (one word) cleared nothing: this is the only clear, after "stop please".
    expect(socket.events.indexOf("playback_clear")).toBe(cleared);
    expect(socket.events.slice(before, cleared)).toContain("interim_transcript");
    for (;;) {
      const done = (await until(socket, "assistant_done")).at(-1);
      if (done?.type === "assistant_done" && done.entry.text === "Okay, stopping.") break;
    }
    // Nothing more of the interrupted answer was sent after the clear.
    const nextTurn = socket.events.indexOf("transcript", cleared);
    expect(socket.events.slice(cleared + 1, nextTurn)).not.toContain("audio");
    // Its last sentence was never spoken, and Claude is told only what the caller heard.
    const spoken = (await deepgramLog(deepgram(), signedIn.sessionId)).spoken;
    expect(spoken).not.toContain("The second is buying milk.");
    const history = JSON.stringify((await claudeRequests(claude(), user.name)).at(-1)?.body);
    expect(history).toContain("You have five todos for today.");
    expect(history).not.toContain("renewing the domain");
    expect(history).not.toContain("The second is buying milk.");
    socket.close();
  });
});
