import { describe, expect, it } from "vitest";
import { HeldOutput } from "../../voice/held-output.ts";
import { SpeechOutput, type Synthesize } from "../../voice/speech-output.ts";
import { AudioClock, summarize, type TurnMarks } from "../../voice/turn-metrics.ts";

describe("summarize (per-turn voice metrics)", () => {
  it("splits the caller's wait into the providers' parts and the server's own", () => {
    const marks: TurnMarks = {
      speechEndAt: 1_000,
      sttFinalAt: 1_200,
      endOfTurnAt: 1_260,
      pipelineStartAt: 1_260,
      modelRequestAt: 1_262,
      modelFirstTextAt: 1_662,
      ttsRequestAt: 1_700,
      ttsFirstByteAt: 1_850,
      firstAudioSentAt: 1_851,
    };
    expect(summarize(marks)).toEqual({
      endOfTurnDelayMs: 260,
      sttFinalDelayMs: 200,
      llmTtftMs: 400,
      ttsTtfbMs: 150,
      serverAddedMs: 3, // 2 ms to ask the model + 1 ms from first byte to first frame
      endToEndMs: 851,
      speculative: false,
    });
  });

  it("does not count a speculative reply's wait for EndOfTurn as the server's", () => {
    const marks: TurnMarks = {
      speechEndAt: 1_000,
      pipelineStartAt: 1_100, // EagerEndOfTurn
      modelRequestAt: 1_101,
      modelFirstTextAt: 1_300,
      ttsRequestAt: 1_320,
      ttsFirstByteAt: 1_400,
      endOfTurnAt: 1_500, // the audio waited 100 ms for this
      firstAudioSentAt: 1_502,
      speculative: true,
    };
    const m = summarize(marks);
    expect(m.serverAddedMs).toBe(3);
    expect(m.endToEndMs).toBe(502);
    // Below the sum of the provider latencies: the model and TTS ran while Flux decided.
    expect(m.endToEndMs).toBeLessThan(
      (m.endOfTurnDelayMs ?? 0) + (m.llmTtftMs ?? 0) + (m.ttsTtfbMs ?? 0),
    );
  });

  it("leaves out what did not happen", () => {
    const m = summarize({ pipelineStartAt: 5, ttsRequestAt: 5, ttsFirstByteAt: 9 });
    expect(m).toMatchObject({
      llmTtftMs: null,
      serverAddedMs: null,
      endToEndMs: null,
      ttsTtfbMs: 4,
    });
  });
});

describe("AudioClock", () => {
  it("maps a position in the stream to when that audio arrived, across a replay", () => {
    const clock = new AudioClock();
    clock.sent(20, 100);
    clock.sent(20, 120);
    clock.sent(20, 140);
    expect(clock.arrivalOf(0.03)).toBe(120);
    expect(clock.arrivalOf(0.06)).toBe(140);
    expect(clock.arrivalOf(0.5)).toBeUndefined();
    // A new connection replays old frames with their first arrival times.
    clock.reset();
    clock.sent(20, 120);
    expect(clock.arrivalOf(0.02)).toBe(120);
  });
});

describe("HeldOutput", () => {
  it("holds actions until commit, in order; drops them on cancel", async () => {
    const out: number[] = [];
    const held = new HeldOutput();
    held.run(() => out.push(1));
    held.run(() => out.push(2));
    expect(out).toEqual([]);
    held.commit();
    held.run(() => out.push(3));
    expect(out).toEqual([1, 2, 3]);
    await expect(held.decided).resolves.toBe(true);

    const dropped = new HeldOutput();
    dropped.run(() => out.push(4));
    dropped.cancel();
    dropped.commit(); // too late: decided once
    dropped.run(() => out.push(5));
    expect(out).toEqual([1, 2, 3]);
    await expect(dropped.decided).resolves.toBe(false);
  });
});

describe("SpeechOutput", () => {
  /** 10 ms of audio per character, as the fake Aura speaks. */
  const synthesize: Synthesize = async (text, _signal, onAudio) => {
    onAudio(new Uint8Array(text.length * 10 * 32));
  };

  it("knows what the caller heard from how much the page played", async () => {
    const frames: { pcm: Uint8Array; replyStart: boolean }[] = [];
    const speech = new SpeechOutput({
      synthesize,
      sendAudio: (pcm, replyStart) => frames.push({ pcm, replyStart }),
      marks: {},
      onFirstAudio: () => undefined,
      onError: (e) => {
        throw e;
      },
    });
    const first = "You have five todos for today."; // 300 ms
    const second = "The first is the domain."; // 240 ms
    speech.write(`${first} ${second}`);
    await speech.end();
    expect(speech.sentMs).toBe(540);
    expect(speech.heardText(540)).toBe(`${first} ${second}`);
    expect(speech.heardText(300)).toBe(first);
    expect(speech.heardText(150)).toBe("You have five…");
    expect(speech.heardText(420)).toBe(`${first} The first…`);
    expect(speech.heardText(0)).toBe("");
    // Only the reply's first audio is marked as its start.
    expect(frames[0]?.replyStart).toBe(true);
    expect(frames.slice(1).every((f) => !f.replyStart)).toBe(true);
  });

  it("sends the first audio at once, then joins small pieces into frames of up to 100 ms", async () => {
    // 20 ms pieces (640 bytes), as Aura may send them, all at once, and an odd byte at the end.
    const inPieces: Synthesize = async (text, _signal, onAudio) => {
      for (let i = 0; i < text.length / 2; i++) onAudio(new Uint8Array(640).fill(i % 251));
      onAudio(new Uint8Array(1));
    };
    const frames: Uint8Array[] = [];
    const speech = new SpeechOutput({
      synthesize: inPieces,
      sendAudio: (pcm) => frames.push(pcm.slice()),
      marks: {},
      onFirstAudio: () => undefined,
      onError: (e) => {
        throw e;
      },
    });
    const sentence = "Fifty characters make twenty-five pieces of sound."; // 25 pieces
    speech.write(`${sentence} `);
    await speech.end();
    const sizes = frames.map((f) => f.byteLength);
    // Until the page has 100 ms, piece by piece; then 100 ms frames, and the rest at the end.
    expect(sizes).toEqual([640, 640, 640, 640, 640, 3200, 3200, 3200, 3200]);
    expect(speech.sentMs).toBe(25 * 20);
    // Nothing lost or reordered: the pieces' fill values, 640 bytes each, in order.
    const all = new Uint8Array(sizes.reduce((a, b) => a + b, 0));
    let at = 0;
    for (const f of frames) {
      all.set(f, at);
      at += f.byteLength;
    }
    for (let i = 0; i < 25; i++) expect(all[i * 640]).toBe(i % 251);
    expect(speech.heardText(500)).toBe(sentence);
  });

  it("sends nothing while held, everything on commit, nothing after a cancel", async () => {
    const frames: Uint8Array[] = [];
    const marks: TurnMarks = {};
    const output = new HeldOutput();
    const speech = new SpeechOutput({
      synthesize,
      sendAudio: (pcm) => frames.push(pcm),
      marks,
      output,
      onFirstAudio: () => undefined,
      onError: () => undefined,
    });
    speech.write("Held back for now. ");
    await speech.end();
    expect(frames).toEqual([]);
    expect(marks.ttsFirstByteAt).toBeDefined();
    expect(marks.firstAudioSentAt).toBeUndefined();
    output.commit();
    expect(frames.length).toBeGreaterThan(0);
    expect(marks.firstAudioSentAt).toBeDefined();
  });
});
