/**
 * The fake Deepgram's benchmark hooks: utterances appended to a script while its socket is open
 * (`POST /_fake/stt-scripts/append`), the observer (`onEvent`), and the record of Aura sockets
 * (how each one closed: 1006 when the connection ended without a Close frame).
 */
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebSocket as WsSocket } from "ws";
import { appendDeepgramUtterances, deepgramLog, scriptDeepgram, stampedFrame } from "./client.ts";
import { type DeepgramEvent, type FakeDeepgram, startFakeDeepgram } from "./server.ts";

// As server.ts does: vitest would otherwise pick ws's browser stub.
const { WebSocket } = createRequire(import.meta.url)("ws") as typeof import("ws");

const KEY = "test-deepgram-key";
let fake: FakeDeepgram;
const events: DeepgramEvent[] = [];
beforeAll(async () => {
  fake = await startFakeDeepgram({ apiKey: KEY, onEvent: (event) => events.push(event) });
});
afterAll(() => fake.close());

const eventsOf = (tag: string) => events.filter((e) => e.tag === tag);

async function connect(path: string): Promise<{ ws: WsSocket; messages: unknown[] }> {
  const ws = new WebSocket(`${fake.url.replace("http", "ws")}${path}`, ["token", KEY]);
  const messages: unknown[] = [];
  ws.on("message", (data, isBinary) => messages.push(isBinary ? data : JSON.parse(String(data))));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return { ws, messages };
}

/** Stamped 20 ms frames from `fromMs` up to `toMs` of the caller's stream. */
function sendAudio(ws: WsSocket, fromMs: number, toMs: number) {
  for (let ms = fromMs; ms < toMs; ms += 20) ws.send(stampedFrame(ms / 20));
}

const finals = (messages: unknown[]) =>
  messages.flatMap((m) => {
    const r = m as {
      type?: string;
      is_final?: boolean;
      channel?: { alternatives: { transcript: string }[] };
    };
    return r.type === "Results" && r.is_final ? [r.channel?.alternatives[0]?.transcript] : [];
  });

const closed = (ws: WsSocket) => new Promise((resolve) => ws.once("close", resolve));

describe("fake Deepgram: appended utterances and the observer", () => {
  it("an open socket hears utterances appended to its script, and the observer is told", async () => {
    await scriptDeepgram(fake.url, "append-1", [{ text: "first words here", afterAudioMs: 800 }]);
    const { ws, messages } = await connect("/v1/listen?extra=session:append-1&sample_rate=16000");
    sendAudio(ws, 0, 1_000);
    await expect.poll(() => finals(messages)).toEqual(["first words here"]);

    await appendDeepgramUtterances(fake.url, "append-1", [
      { text: "second words there", afterAudioMs: 1_800 },
    ]);
    sendAudio(ws, 1_000, 2_000);
    await expect.poll(() => finals(messages)).toEqual(["first words here", "second words there"]);
    expect(eventsOf("append-1").map((e) => [e.kind, e.text])).toEqual([
      ["stt_final", "first words here"],
      ["stt_final", "second words there"],
    ]);
    ws.close();
  });

  it("refuses to append to a script it does not know", async () => {
    await expect(
      appendDeepgramUtterances(fake.url, "no-such-script", [{ text: "hello", afterAudioMs: 100 }]),
    ).rejects.toThrow(/404/);
  });

  it("tells the observer what Aura's socket does, and records how each socket closed", async () => {
    const path = "/v1/speak?tag=session:aura-1&encoding=linear16&sample_rate=16000";
    const first = await connect(path);
    first.ws.send(JSON.stringify({ type: "Speak", text: "Hello there." }));
    first.ws.send(JSON.stringify({ type: "Flush" }));
    await expect
      .poll(() => first.messages.some((m) => (m as { type?: string }).type === "Flushed"))
      .toBe(true);
    expect(eventsOf("aura-1").map((e) => e.kind)).toEqual([
      "tts_socket_open",
      "tts_request",
      "tts_flush",
      "tts_first_audio",
    ]);
    // Closed with a Close frame, then one dropped without: 1000, then 1006.
    first.ws.close(1000);
    await closed(first.ws);
    const second = await connect(path);
    second.ws.terminate();
    await expect
      .poll(async () => (await deepgramLog(fake.url, "aura-1")).auraSockets.map((s) => s.code))
      .toEqual([1000, 1006]);
    const log = await deepgramLog(fake.url, "aura-1");
    expect(log.spoken).toEqual(["Hello there."]);
    for (const socket of log.auraSockets)
      expect(socket.closedAt).toBeGreaterThanOrEqual(socket.openedAt);
    expect(
      eventsOf("aura-1").flatMap((e) => (e.kind === "tts_socket_close" ? [e.code] : [])),
    ).toEqual([1000, 1006]);
  });
});

describe("fake Deepgram: what is said is reported while it is said", () => {
  type Message = {
    type?: string;
    event?: string;
    is_final?: boolean;
    transcript?: string;
    channel?: { alternatives: { transcript: string }[] };
  };
  /** Each message as "type" or "type: words", in order. */
  const said = (messages: unknown[]) =>
    messages.map((m) => {
      const r = m as Message;
      if (r.type === "Results") {
        const text = r.channel?.alternatives[0]?.transcript ?? "";
        return text ? `${r.is_final ? "final" : "interim"}: ${text}` : "empty";
      }
      if (r.type === "TurnInfo") return r.transcript ? `${r.event}: ${r.transcript}` : "empty";
      return r.type;
    });
  const spoken = (messages: unknown[]) => said(messages).filter((m) => m !== "empty");

  // "one two three" ends at 1 500 ms: its words end at 1 000, 1 250 and 1 500.
  /** What Nova says of it, however its audio came. */
  const NOVA_ONE_TWO_THREE = [
    "SpeechStarted",
    "interim: one",
    "interim: one two",
    "final: one two three",
  ];
  /** A Nova socket of its own, scripted to hear `text` ending `afterAudioMs` into its audio. */
  async function novaHearing(session: string, text: string, afterAudioMs: number) {
    await scriptDeepgram(fake.url, session, [{ text, afterAudioMs }]);
    return connect(`/v1/listen?extra=session:${session}&sample_rate=16000`);
  }

  it("Nova: speech starts and interims come as the words are heard, the final at the end", async () => {
    const { ws, messages } = await novaHearing("progress-nova", "one two three", 1_500);
    sendAudio(ws, 0, 1_100);
    await expect.poll(() => spoken(messages)).toEqual(["SpeechStarted", "interim: one"]);
    sendAudio(ws, 1_100, 1_300);
    await expect.poll(() => spoken(messages)).toContain("interim: one two");
    expect(spoken(messages)).not.toContain("final: one two three");
    sendAudio(ws, 1_300, 1_600);
    await expect.poll(() => finals(messages)).toEqual(["one two three"]);
    expect(spoken(messages).filter((m) => m !== "UtteranceEnd")).toEqual(NOVA_ONE_TWO_THREE);
    ws.close();
  });

  it("Nova: audio that brings all the words at once brings all their messages at once", async () => {
    const { ws, messages } = await novaHearing("progress-burst", "one two three", 1_500);
    ws.send(Buffer.alloc(16 * 1_600 * 2));
    await expect.poll(() => finals(messages)).toEqual(["one two three"]);
    expect(spoken(messages).filter((m) => m !== "UtteranceEnd")).toEqual(NOVA_ONE_TWO_THREE);
    ws.close();
  });

  it("Nova: silence is finalised every few seconds with an empty final, never once speech is due", async () => {
    // Seven words ending at 10 500 ms, 250 ms each: the first starts at 8 750, so the empty final
    // that 9 000 ms would bring (3 s after the last) would cover it, and must not come.
    const words = "one two three four five six seven";
    const { ws, messages } = await novaHearing("silence-nova", words, 10_500);
    sendAudio(ws, 0, 14_000);
    await expect.poll(() => finals(messages)).toHaveLength(4);
    expect(finals(messages)).toEqual(["", "", words, ""]);
    // Each empty final starts where the last final ended.
    const stretches = messages.flatMap((m) => {
      const r = m as { type?: string; is_final?: boolean; start: number; duration: number };
      return r.type === "Results" && r.is_final ? [[r.start, r.start + r.duration]] : [];
    });
    expect(stretches[0]).toEqual([0, 3]);
    expect(stretches[1]).toEqual([3, 6]);
    expect(stretches[2]?.[1]).toBe(10.5);
    expect(stretches[3]).toEqual([10.5, 14]);
    // Between them, an empty interim every second, as before.
    expect(said(messages).filter((m) => m === "empty").length).toBeGreaterThanOrEqual(10);
    ws.close();
  });

  it("Flux: the turn starts and updates come as the words are heard, the end of turn at the end", async () => {
    await scriptDeepgram(fake.url, "progress-flux", [
      { text: "one two three", afterAudioMs: 1_500 },
    ]);
    const { ws, messages } = await connect(
      "/v2/listen?model=flux-general-en&extra=session:progress-flux&sample_rate=16000&encoding=linear16",
    );
    sendAudio(ws, 0, 1_100);
    await expect
      .poll(() => spoken(messages).filter((m) => m !== "Connected"))
      .toEqual(["StartOfTurn: one", "Update: one"]);
    sendAudio(ws, 1_100, 1_600);
    await expect.poll(() => spoken(messages)).toContain("EndOfTurn: one two three");
    expect(spoken(messages).filter((m) => m !== "Connected")).toEqual([
      "StartOfTurn: one",
      "Update: one",
      "Update: one two",
      "EndOfTurn: one two three",
    ]);
    ws.close();
  });
});
