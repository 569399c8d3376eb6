/**
 * Spoken turns through the real CallSession: caller audio → fake Deepgram STT → the agent
 * (fake Claude) → fake Aura TTS → assistant audio frames back on the caller's socket.
 */

import { runInDurableObject } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { AudioFrameFlag, AudioFrameKind, decodeAudioFrame } from "../../protocol/audio-frame.ts";
import type { ServerMessage, ServerMessageOf } from "../../protocol/messages.ts";
import { transcriptTurns } from "../../worker/db/schema.ts";
import { claudeRequests, scriptClaude } from "../fakes/anthropic/client.ts";
import { deepgramLog, paceDeepgramTts, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { signIn, stubFor } from "./support/session-socket.ts";
import { storedTurns } from "./support/transcripts.ts";
import { createUser, db } from "./support/users.ts";
import { audioBytes, speak, ttsBytes, until } from "./support/voice.ts";

const deepgram = () => inject("deepgramBaseUrl");
const claude = () => inject("anthropicBaseUrl");

describe("voice", () => {
  it("Aura's socket opens while the caller is still talking, not once the reply is ready", async () => {
    const user = await createUser({ name: `Voice ${crypto.randomUUID().slice(0, 8)}` });
    await scriptClaude(claude(), user.name, [{ kind: "text", text: "Sure." }]);
    const { socket, signedIn } = await signIn(user.pin);
    // No greeting was asked for (no audio_ready): no socket is open yet. Deepgram's end of turn
    // comes 800 ms after the caller started speaking.
    await scriptDeepgram(
      deepgram(),
      signedIn.sessionId,
      [{ text: "hello there assistant", afterAudioMs: 300 }],
      { endOfTurnDelayMs: 800 },
    );
    speak(socket, 400);
    await until(socket, "transcript");
    const finalBy = Date.now();
    const [aura, ...more] = (await deepgramLog(deepgram(), signedIn.sessionId)).auraSockets;
    expect(more).toEqual([]);
    expect(aura?.openedAt ?? Number.POSITIVE_INFINITY).toBeLessThan(finalBy - 400);
    await until(socket, "voice_metrics");
    socket.close();
  });

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
    const metrics = rest.at(-1) as ServerMessageOf<"voice_metrics">;
    // Every stage was measured, and the parts add up: the caller waited for Deepgram's end of
    // turn, Claude's first words, Aura's first byte and what the server itself added.
    for (const key of [
      "endOfTurnDelayMs",
      "sttFinalDelayMs",
      "llmTtftMs",
      "ttsTtfbMs",
      "serverAddedMs",
      "endToEndMs",
    ] as const)
      expect(metrics[key], key).toBeGreaterThanOrEqual(0);
    const parts =
      (metrics.endOfTurnDelayMs ?? 0) +
      (metrics.llmTtftMs ?? 0) +
      (metrics.ttsTtfbMs ?? 0) +
      (metrics.serverAddedMs ?? 0);
    // Each part is rounded on its own: allow a millisecond for each.
    expect(metrics.endToEndMs).toBeGreaterThanOrEqual(parts - 4);
    expect(metrics.speculative).toBe(false);
    expect(metrics.endToEndPlayedMs).toBeNull();
    await expect
      .poll(() => audioBytes(socket))
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
    // The figures are stored with the assistant's transcript row…
    const storedMetrics = async () => {
      const [row] = await db()
        .select({ metrics: transcriptTurns.metrics })
        .from(transcriptTurns)
        .where(
          and(
            eq(transcriptTurns.sessionId, signedIn.sessionId),
            eq(transcriptTurns.role, "assistant"),
          ),
        );
      return row?.metrics;
    };
    await expect.poll(storedMetrics).toMatchObject({
      endToEndMs: metrics.endToEndMs,
      serverAddedMs: metrics.serverAddedMs,
      llmTtftMs: metrics.llmTtftMs,
      endToEndPlayedMs: null,
      interrupted: false,
    });
    // The page reports when it started playing: end to end as heard.
    socket.send({
      type: "playback_started",
      turnId: metrics.turnId,
      playoutDelayMs: 60,
      rttMs: 40,
    });
    const played = (await until(socket, "voice_metrics")).at(
      -1,
    ) as ServerMessageOf<"voice_metrics">;
    expect(played.endToEndPlayedMs).toBe((metrics.endToEndMs ?? 0) + 60 + 20);
    // …and what the page reports after the row was written is added to it.
    await expect.poll(storedMetrics).toMatchObject({ endToEndPlayedMs: played.endToEndPlayedMs });
    socket.close();
  });

  it("a spoken turn's held bookkeeping reaches storage with its checkpoint, in one commit", async () => {
    const user = await createUser({ name: `Voice ${crypto.randomUUID().slice(0, 8)}` });
    // The first sentence is heard while the answer streams on for half a second: the turn's
    // held writes may go once its reply has started, its checkpoint only once the answer ended.
    await scriptClaude(claude(), user.name, [
      {
        kind: "text",
        text: "I have added that to your list. Is there anything else I can help you with today, or shall we stop here?",
        latency: { chunkMs: 30 },
      },
    ]);
    const { socket, signedIn } = await signIn(user.pin);
    await scriptDeepgram(deepgram(), signedIn.sessionId, [
      { text: "add milk to my list", afterAudioMs: 300 },
    ]);
    const stub = stubFor(signedIn.sessionId);
    const stored = () =>
      runInDurableObject(stub, (_instance, state) => {
        const entries = [...state.storage.kv.list({ prefix: "transcript:" })].length;
        const tables = state.storage.sql
          .exec("SELECT count(*) AS n FROM sqlite_master WHERE name = 'lg_checkpoints'")
          .one().n;
        const checkpoints = tables
          ? state.storage.sql
              .exec(
                "SELECT count(*) AS n FROM lg_checkpoints WHERE thread_id = ?",
                signedIn.sessionId,
              )
              .one().n
          : 0;
        return { entries, checkpoints: Number(checkpoints) };
      });
    expect(await stored()).toEqual({ entries: 0, checkpoints: 0 });
    speak(socket, 400);
    // Looked at every few ms from the caller's last word: the caller's words are never stored
    // without the turn's checkpoint (two commits apart, they were, for the rest of the answer).
    let now = await stored();
    const deadline = Date.now() + 10_000;
    while (now.entries === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      now = await stored();
    }
    expect(now.entries).toBeGreaterThan(0);
    expect(now.checkpoints).toBeGreaterThan(0);
    await until(socket, "assistant_done");
    socket.close();
  });

  it("greets the caller aloud by name once the page can play audio, once per session", async () => {
    const user = await createUser({ name: `Greta ${crypto.randomUUID().slice(0, 8)}` });
    const { socket, signedIn } = await signIn(user.pin);
    socket.send({ type: "audio_ready" });
    const greeting = await socket.next("transcript");
    expect(greeting.entry).toMatchObject({
      role: "assistant",
      text: "Hi Greta, what can I do for you?",
    });
    const metrics = (await until(socket, "voice_metrics")).at(
      -1,
    ) as ServerMessageOf<"voice_metrics">;
    expect(metrics.ttsTtfbMs).toBeGreaterThanOrEqual(0);
    await expect.poll(() => audioBytes(socket)).toBe(ttsBytes(greeting.entry.text));
    const first = decodeAudioFrame(socket.audio[0] ?? new Uint8Array());
    expect(first.ok && first.frame.flags & AudioFrameFlag.ReplyStart).toBeTruthy();
    const second = decodeAudioFrame(socket.audio[1] ?? new Uint8Array());
    expect(second.ok && second.frame.flags).toBe(0);
    // It is part of the call's record in Postgres too.
    await expect
      .poll(() => storedTurns(signedIn.sessionId))
      .toEqual(["assistant: Hi Greta, what can I do for you?"]);
    // Not again: a second "ready" (a reload, a resumed call) brings no second greeting.
    socket.send({ type: "audio_ready" });
    socket.send({ type: "ping", t: 1 });
    await socket.next("pong");
    expect(socket.events.filter((e) => e === "transcript")).toHaveLength(1);
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
    const clear = (await until(socket, "playback_clear")).at(-1);
    // The page reports how much it played: half of the first sentence.
    const playedMs = ("You have five todos for today.".length * 10) / 2;
    socket.send({
      type: "playback_stopped",
      turnId: clear?.type === "playback_clear" ? clear.turnId : "",
      playedMs,
    });
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
    // Its last sentence was never spoken, and Claude is told only what the caller heard: at once
    // by the clock, never a sentence not sent in full (the page's report corrects it later, see
    // "a cut-off reply never delays the next answer").
    const spoken = (await deepgramLog(deepgram(), signedIn.sessionId)).spoken;
    expect(spoken).not.toContain("The second is buying milk.");
    const history = JSON.stringify((await claudeRequests(claude(), user.name)).at(-1)?.body);
    expect(history).not.toContain("renewing the domain");
    expect(history).not.toContain("The second is buying milk.");
    socket.close();
  });

  it("a cut-off reply never delays the next answer: the page's report corrects the record later", async () => {
    const user = await createUser({ name: `Voice ${crypto.randomUUID().slice(0, 8)}` });
    const marker = crypto.randomUUID().slice(0, 8);
    const first = "You have five todos for today.";
    await scriptClaude(claude(), user.name, [
      { kind: "text", text: `${first} The first is renewing the domain, ${marker}. Then milk.` },
      { kind: "text", text: "Okay, stopping." },
      { kind: "text", text: "You asked what you have today." },
    ]);
    await paceDeepgramTts(deepgram(), { match: marker, chunkMs: 20, msPerChar: 40 });
    const { socket, signedIn } = await signIn(user.pin);
    await scriptDeepgram(deepgram(), signedIn.sessionId, [
      { text: "what do I have today", afterAudioMs: 200 },
      { text: "stop please", afterAudioMs: 600 },
      { text: "what was that again", afterAudioMs: 1000 },
    ]);
    speak(socket, 300);
    await until(socket, "voice_metrics");
    await expect.poll(() => audioBytes(socket)).toBeGreaterThan(ttsBytes(first));
    speak(socket, 400); // "stop please", over the second sentence
    const clear = (await until(socket, "playback_clear")).at(-1);
    const clearedAt = Date.now();
    const turnId = clear?.type === "playback_clear" ? clear.turnId : "";

    // No report from the page yet: the next turn asks Claude anyway, long before the report
    // could have been waited for (it used to wait up to 300 ms for it).
    await expect.poll(async () => (await claudeRequests(claude(), user.name)).length).toBe(2);
    const asked = (await claudeRequests(claude(), user.name))[1];
    expect((asked?.receivedAt ?? Number.POSITIVE_INFINITY) - clearedAt).toBeLessThan(250);
    // It knew, by the clock, that the unsent sentence was never heard.
    expect(JSON.stringify(asked?.body)).not.toContain("Then milk.");

    // The page's report comes late: it had played half of the first sentence.
    socket.send({ type: "playback_stopped", turnId, playedMs: (first.length * 10) / 2 });
    // The open page is told what was really heard, and the transcript row says it too…
    const seen = await until(socket, "transcript_revised");
    const replies = seen.flatMap((m) => (m.type === "assistant_done" ? [m] : []));
    expect(seen.at(-1)).toEqual({
      type: "transcript_revised",
      turnId: replies.find((m) => m.interrupted)?.turnId,
      text: "You have five…",
    });
    await expect.poll(() => storedTurns(signedIn.sessionId)).toContain("assistant: You have five…");
    // …and so does the model's history on the next turn (once "Okay, stopping." was heard).
    const stopping = (m: ServerMessage) =>
      m.type === "assistant_done" && m.entry.text === "Okay, stopping.";
    while (!seen.some(stopping)) seen.push(...(await until(socket, "assistant_done")));
    speak(socket, 400);
    await expect.poll(async () => (await claudeRequests(claude(), user.name)).length).toBe(3);
    const history = JSON.stringify((await claudeRequests(claude(), user.name))[2]?.body);
    expect(history).toContain("You have five…");
    expect(history).not.toContain("todos for today");
    expect(history).not.toContain("renewing the domain");
    expect(history).toContain("Okay, stopping.");
    expect(history).toContain("what was that again");
    socket.close();
  });
});
