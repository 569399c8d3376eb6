/**
 * The Deepgram adapters as they run in workerd, against the fake Deepgram on a real socket.
 */
import { describe, expect, inject, it } from "vitest";
import { withIdleDeadline } from "../../voice/deadline.ts";
import { AuraSocket } from "../../voice/deepgram/aura-socket.ts";
import { synthesize } from "../../voice/deepgram/aura-tts.ts";
import { connectLiveStt, type SttEvent } from "../../voice/deepgram/live-stt.ts";
import { ProviderTimeoutError } from "../../voice/errors.ts";
import { deepgramLog, paceDeepgramTts, scriptDeepgram } from "../fakes/deepgram/client.ts";

const baseUrl = () => inject("deepgramBaseUrl");
const apiKey = "test-deepgram-key";
const FRAME = new Uint8Array(640); // 20 ms of 16 kHz PCM16 silence
/** What the transcript is made of (not the connection's own bookkeeping). */
const said = (e: SttEvent) => e.type !== "alive" && e.type !== "finalized";

describe("Deepgram live STT adapter", () => {
  it("authenticates from workerd, streams audio and reports interim, final and end of turn", async () => {
    const script = `stt-${crypto.randomUUID()}`;
    await scriptDeepgram(baseUrl(), script, [{ text: "add milk to my list", afterAudioMs: 400 }]);
    const events: SttEvent[] = [];
    let sawTurnEnd!: () => void;
    const turnEnded = new Promise<void>((resolve) => (sawTurnEnd = resolve));
    const stt = await connectLiveStt(
      { apiKey, baseUrl: baseUrl(), extra: { session: script } },
      (event) => {
        events.push(event);
        if (event.type === "utterance_end") sawTurnEnd();
      },
    );
    for (let i = 0; i < 25; i++) stt.sendAudio(FRAME);
    await turnEnded;
    expect(events.filter(said).map((e) => e.type)).toEqual([
      "speech_started",
      "interim",
      "interim",
      "interim",
      "interim",
      "final",
      "utterance_end",
    ]);
    // Every message proves the socket alive; the final one says what need not be sent again.
    expect(events.filter((e) => e.type === "alive")).toHaveLength(7);
    expect(events.filter((e) => e.type === "finalized")).toEqual([
      { type: "finalized", throughSec: 0.4 },
    ]);
    expect(events.find((e) => e.type === "final")).toEqual({
      type: "final",
      text: "add milk to my list",
      endOfTurn: true,
      // Where the last word ends in the audio: the script's 400 ms.
      audioEndSec: 0.4,
    });
    stt.keepAlive();
    stt.finalize();
    stt.close();
    await expect
      .poll(async () => (await deepgramLog(baseUrl(), script)).connections[0]?.closedByClient)
      .toBe(true);
    const [log] = (await deepgramLog(baseUrl(), script)).connections;
    expect(log?.keepAlives).toBe(1);
    expect(log?.finalizes).toBe(1);
    expect(log?.audioMs).toBe(500);
  });

  it("speaks Flux for a flux model: eager end of turn, resumed, then the whole turn", async () => {
    const script = `flux-${crypto.randomUUID()}`;
    await scriptDeepgram(baseUrl(), script, [
      { text: "book a meeting", afterAudioMs: 200, eager: true, resumed: true },
      { text: "book a meeting with Bob", afterAudioMs: 400, eager: true },
    ]);
    const events: SttEvent[] = [];
    let sawTurnEnd!: () => void;
    const turnEnded = new Promise<void>((resolve) => (sawTurnEnd = resolve));
    const stt = await connectLiveStt(
      { apiKey, baseUrl: baseUrl(), model: "flux-general-en", extra: { session: script } },
      (event) => {
        events.push(event);
        if (event.type === "final") sawTurnEnd();
      },
    );
    for (let i = 0; i < 25; i++) stt.sendAudio(FRAME);
    await turnEnded;
    expect(events.filter((e) => said(e) && e.type !== "interim").map((e) => e.type)).toEqual([
      "speech_started",
      "eager_end_of_turn",
      "turn_resumed",
      "eager_end_of_turn",
      "final",
    ]);
    expect(events.at(-1)).toEqual({
      type: "final",
      text: "book a meeting with Bob",
      endOfTurn: true,
      wholeTurn: true,
      audioEndSec: 0.4,
    });
    stt.close();
    const [log] = (await deepgramLog(baseUrl(), script)).connections;
    expect(log?.flux).toBe(true);
  });

  it("is refused with a wrong key, as an error no retry can help", async () => {
    const refused = connectLiveStt({ apiKey: "wrong", baseUrl: baseUrl() }, () => undefined);
    await expect(refused).rejects.toThrow(/refused.*401/);
    await expect(refused).rejects.toMatchObject({ retryable: false, status: 401 });
  });

  it("a refusal during an outage (503) is worth retrying", async () => {
    const script = `outage-${crypto.randomUUID()}`;
    await scriptDeepgram(baseUrl(), script, [], { outageMs: 60_000 });
    const refused = connectLiveStt(
      { apiKey, baseUrl: baseUrl(), extra: { session: script } },
      () => undefined,
    );
    await expect(refused).rejects.toMatchObject({ retryable: true, status: 503 });
    expect((await deepgramLog(baseUrl(), script)).attempts).toMatchObject([{ status: 503 }]);
  });

  it("answers about once a second of audio even when nobody speaks", async () => {
    const script = `quiet-${crypto.randomUUID()}`;
    await scriptDeepgram(baseUrl(), script, []);
    const events: SttEvent[] = [];
    const stt = await connectLiveStt(
      { apiKey, baseUrl: baseUrl(), extra: { session: script } },
      (event) => {
        events.push(event);
      },
    );
    for (let i = 0; i < 150; i++) stt.sendAudio(FRAME); // 3 s
    await expect.poll(() => events.filter((e) => e.type === "alive").length).toBe(3);
    expect(events.filter(said)).toEqual([]);
    stt.close();
  });
});

describe("Deepgram Aura TTS adapter", () => {
  it("streams audio in chunks as it is synthesised", async () => {
    const session = crypto.randomUUID();
    const text = `Done — renew the domain is due Friday. ${session}`;
    const chunks: number[] = [];
    await synthesize(
      text,
      { apiKey, baseUrl: baseUrl(), tag: `session:${session}` },
      new AbortController().signal,
      (chunk) => chunks.push(chunk.byteLength),
    );
    expect(chunks.length).toBeGreaterThan(3);
    const total = chunks.reduce((a, b) => a + b, 0);
    expect(total).toBe(Math.round((text.length * 10 * 16_000) / 1000) * 2);
    expect((await deepgramLog(baseUrl(), session)).spoken).toEqual([text]);
  });

  it("stops when aborted, and reports a refused key", async () => {
    const controller = new AbortController();
    const received: number[] = [];
    await synthesize(
      "A sentence long enough to stream for a while.",
      { apiKey, baseUrl: baseUrl() },
      controller.signal,
      (chunk) => {
        received.push(chunk.byteLength);
        controller.abort();
      },
    );
    // Ended at the abort: nothing came after the first chunk.
    expect(received).toHaveLength(1);
    const refused = synthesize(
      "x",
      { apiKey: "wrong", baseUrl: baseUrl() },
      new AbortController().signal,
      () => undefined,
    );
    await expect(refused).rejects.toMatchObject({
      message: expect.stringMatching(/401/),
      retryable: false,
    });
  });
});

describe("Deepgram Aura TTS over HTTP, faults", () => {
  const read = async (text: string, tag: string) => {
    let bytes = 0;
    await withIdleDeadline(
      (signal, onAudio) => synthesize(text, { apiKey, baseUrl: baseUrl(), tag }, signal, onAudio),
      (chunk: Uint8Array) => {
        bytes += chunk.byteLength;
      },
      300,
      new AbortController().signal,
      "Aura",
    );
    return bytes;
  };

  it("a silent Aura (no first byte) is abandoned at the deadline", async () => {
    const marker = crypto.randomUUID().slice(0, 8);
    await paceDeepgramTts(baseUrl(), { match: marker, firstByteMs: 30_000 });
    const started = Date.now();
    await expect(read(`Never answered ${marker}.`, "session:http-silent")).rejects.toBeInstanceOf(
      ProviderTimeoutError,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("a response cut mid-sentence fails the sentence; a refusal says whether to retry", async () => {
    const marker = crypto.randomUUID().slice(0, 8);
    await paceDeepgramTts(baseUrl(), { match: marker, dropAfterMs: 100, chunkMs: 5 });
    await expect(read(`Cut short ${marker}, sadly.`, "session:http-cut")).rejects.toThrow(
      /broke off/,
    );
    const session = crypto.randomUUID();
    await paceDeepgramTts(baseUrl(), { session, refuse: 503 });
    await expect(read("Refused.", `session:${session}`)).rejects.toMatchObject({
      status: 503,
      retryable: true,
    });
  });
});

describe("Deepgram Aura TTS over its WebSocket", () => {
  const bytesFor = (text: string) => Math.round((text.length * 10 * 16_000) / 1000) * 2;
  async function collect(socket: AuraSocket, text: string, signal = new AbortController().signal) {
    let total = 0;
    await socket.synthesize(text, signal, (chunk) => {
      total += chunk.byteLength;
    });
    return total;
  }

  it("speaks sentence after sentence on one socket (Speak + Flush … Flushed)", async () => {
    const session = crypto.randomUUID();
    const socket = new AuraSocket({ apiKey, baseUrl: baseUrl(), tag: `session:${session}` });
    const first = `First sentence ${session}.`;
    const second = "And a second one.";
    expect(await collect(socket, first)).toBe(bytesFor(first));
    expect(await collect(socket, second)).toBe(bytesFor(second));
    expect((await deepgramLog(baseUrl(), session)).spoken).toEqual([first, second]);
    socket.close();
  });

  it("a stopped sentence is cleared: none of its audio leaks into the next", async () => {
    const marker = crypto.randomUUID().slice(0, 8);
    await paceDeepgramTts(baseUrl(), { match: marker, chunkMs: 20, msPerChar: 40 });
    const socket = new AuraSocket({ apiKey, baseUrl: baseUrl() });
    const controller = new AbortController();
    let received = 0;
    await socket.synthesize(`A slow sentence ${marker}.`, controller.signal, (chunk) => {
      received += chunk.byteLength;
      if (received > 2_000) controller.abort();
    });
    expect(received).toBeGreaterThan(2_000);
    const next = "Right away.";
    expect(await collect(socket, next)).toBe(bytesFor(next));
    socket.close();
  });

  it("warm() opens the socket ahead of the first sentence, once; after close() nothing stays open", async () => {
    const session = crypto.randomUUID();
    const socket = new AuraSocket({ apiKey, baseUrl: baseUrl(), tag: `session:${session}` });
    const sockets = async (tag: string) => (await deepgramLog(baseUrl(), tag)).auraSockets;
    socket.warm();
    socket.warm();
    await expect.poll(async () => (await sockets(session)).length).toBe(1);
    const text = "Already open.";
    expect(await collect(socket, text)).toBe(bytesFor(text));
    expect(await sockets(session)).toHaveLength(1);
    socket.close();
    socket.warm();
    await expect.poll(async () => (await sockets(session))[0]?.closedAt ?? null).not.toBeNull();
    // Closed while its handshake was still in flight: the socket is let go once it opens.
    const late = crypto.randomUUID();
    const closedEarly = new AuraSocket({ apiKey, baseUrl: baseUrl(), tag: `session:${late}` });
    closedEarly.warm();
    closedEarly.close();
    await expect.poll(async () => (await sockets(late)).length).toBe(1);
    await expect.poll(async () => (await sockets(late))[0]?.closedAt ?? null).not.toBeNull();
    expect(await sockets(session)).toHaveLength(1);
  });

  it("reports a refused key", async () => {
    const socket = new AuraSocket({ apiKey: "wrong", baseUrl: baseUrl() });
    await expect(collect(socket, "x")).rejects.toThrow(/refused.*401/);
  });

  it("a Warning fails the sentence (Aura dropped it), and the socket speaks the next one", async () => {
    const session = crypto.randomUUID();
    const socket = new AuraSocket({ apiKey, baseUrl: baseUrl(), tag: `session:${session}` });
    // Over Aura's limit: the text is dropped with a Warning, then a Flushed that is no speech.
    await expect(collect(socket, `${"Far too long. ".repeat(150)}`)).rejects.toThrow(/warning/i);
    const next = "Right after.";
    expect(await collect(socket, next)).toBe(bytesFor(next));
    socket.close();
  });

  it("the connect deadline bounds the handshake only: the socket outlives it", async () => {
    const session = crypto.randomUUID();
    const socket = new AuraSocket({
      apiKey,
      baseUrl: baseUrl(),
      tag: `session:${session}`,
      connectTimeoutMs: 200,
    });
    const first = "Before the deadline.";
    expect(await collect(socket, first)).toBe(bytesFor(first));
    await new Promise((resolve) => setTimeout(resolve, 400));
    const second = "Well after it.";
    expect(await collect(socket, second)).toBe(bytesFor(second));
    // One socket, still open: none dropped (1006) when the deadline passed.
    expect((await deepgramLog(baseUrl(), session)).auraSockets).toMatchObject([
      { closedAt: null, code: null },
    ]);
    socket.close();
  });

  it("a socket dropped mid-sentence fails the sentence; the next one opens a new socket", async () => {
    const session = crypto.randomUUID();
    const marker = session.slice(0, 8);
    await paceDeepgramTts(baseUrl(), { match: marker, dropAfterMs: 100, chunkMs: 5 });
    const socket = new AuraSocket({ apiKey, baseUrl: baseUrl(), tag: `session:${session}` });
    await expect(collect(socket, `A sentence cut short ${marker}.`)).rejects.toThrow(
      /closed \(1011/,
    );
    const next = "And on again.";
    expect(await collect(socket, next)).toBe(bytesFor(next));
    socket.close();
  });
});
