/**
 * The pure parts of the voice's fault handling: splitting text for Aura's limit, the reconnect
 * backoff, the audio kept for a new socket, the transcription link's pacing and give-up (on fake
 * timers), and a reply's speech failing — its deadline, the apology, what counts as heard.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backoffDelay } from "../../voice/backoff.ts";
import type { LiveStt, SttEvent } from "../../voice/deepgram/live-stt.ts";
import { VoiceProviderError } from "../../voice/errors.ts";
import { splitForSpeech } from "../../voice/sentence-chunker.ts";
import { SpeechOutput, type Synthesize } from "../../voice/speech-output.ts";
import { SttLink } from "../../voice/stt-link.ts";
import type { TurnMarks } from "../../voice/turn-metrics.ts";
import { UnheardAudio } from "../../voice/unheard-audio.ts";

describe("splitForSpeech (Aura's 2 000-character limit)", () => {
  it("leaves short text alone and cuts long text at the last sentence end that fits", () => {
    expect(splitForSpeech("  Short enough. ", 50)).toEqual(["Short enough."]);
    const text = "One two three. Four five six. Seven eight nine.";
    expect(splitForSpeech(text, 32)).toEqual([
      "One two three. Four five six.",
      "Seven eight nine.",
    ]);
  });

  it("falls back to a clause break, then a space, then a hard cut", () => {
    expect(splitForSpeech("alpha beta gamma, delta epsilon zeta", 24)).toEqual([
      "alpha beta gamma,",
      "delta epsilon zeta",
    ]);
    expect(splitForSpeech("alpha beta gamma delta", 12)).toEqual(["alpha beta", "gamma delta"]);
    expect(splitForSpeech("x".repeat(25), 10)).toEqual([
      "x".repeat(10),
      "x".repeat(10),
      "x".repeat(5),
    ]);
  });

  it("every piece fits, and the pieces are the text", () => {
    const text = Array.from({ length: 300 }, (_, i) => `item ${i}`).join(", ");
    const pieces = splitForSpeech(text, 2_000);
    expect(pieces.length).toBeGreaterThan(1);
    for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(2_000);
    expect(pieces.join(" ")).toBe(text);
  });
});

describe("backoffDelay", () => {
  it("doubles from the base up to the cap, half of it jitter", () => {
    const policy = { baseMs: 250, maxMs: 4_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, () => 1))).toEqual([
      250, 500, 1_000, 2_000, 4_000, 4_000,
    ]);
    expect(backoffDelay(1, policy, () => 0)).toBe(125);
    expect(backoffDelay(9, policy, () => 0)).toBe(2_000);
  });
});

describe("UnheardAudio", () => {
  const frame = () => new Uint8Array(640); // 20 ms

  it("keeps what Deepgram has not made final, bounded, and gives it back for a new socket", () => {
    const audio = new UnheardAudio(100);
    for (let i = 0; i < 4; i++) audio.sent(audio.push(frame(), i).frame);
    // A final through 30 ms: the frame straddling it goes too (its tail was part of a word).
    audio.finalThrough(30);
    expect(audio.durationMs).toBe(40);
    // Audio with no socket waits; over the bound the oldest goes.
    for (let i = 4; i < 8; i++) expect(audio.push(frame(), i).overflowed).toBe(i === 7);
    expect(audio.durationMs).toBe(100);
    const replay = audio.newStream();
    expect(replay.map((f) => f.at)).toEqual([3, 4, 5, 6, 7]);
    for (const f of replay) audio.sent(f);
    expect(replay.map((f) => f.streamStartMs)).toEqual([0, 20, 40, 60, 80]);
  });
});

describe("SttLink", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const settings = { baseMs: 250, maxMs: 2_000, silentTimeoutMs: 1_000, giveUpAfterMs: 10_000 };
  function link(connect: (onEvent: (e: SttEvent) => void) => Promise<LiveStt>) {
    const told: string[] = [];
    const stt = new SttLink(
      {
        connect: (onEvent) => connect(onEvent),
        onEvent: () => undefined,
        onTrouble: () => told.push("trouble"),
        onGaveUp: () => told.push("gave up"),
        log: () => undefined,
        random: () => 0.5,
      },
      settings,
    );
    return { stt, told };
  }
  const socket = (sent: Uint8Array[] = []): LiveStt => ({
    sendAudio: (pcm) => sent.push(new Uint8Array(pcm)),
    keepAlive: () => undefined,
    finalize: () => undefined,
    close: () => undefined,
  });
  const refused = () => Promise.reject(VoiceProviderError.refused("Deepgram", 503));

  it("paces attempts by a capped backoff, not by the audio, tells once, and gives up at the limit", async () => {
    const { stt, told } = link(refused);
    for (let t = 0; t < 12_000; t += 20) {
      stt.send(new Uint8Array(640), Date.now());
      await vi.advanceTimersByTimeAsync(20);
    }
    // 600 frames; attempts at 0, 0, then ~0.19, 0.56, 1.3, 2.8 s and every 1.5 s to 10 s.
    expect(stt.attempts).toBeGreaterThanOrEqual(8);
    expect(stt.attempts).toBeLessThanOrEqual(12);
    expect(told).toEqual(["trouble", "gave up"]);
    // Frames that follow without a pause start nothing; after a pause, the caller is back.
    const before = stt.attempts;
    stt.send(new Uint8Array(640), Date.now());
    expect(stt.attempts).toBe(before);
    await vi.advanceTimersByTimeAsync(1_500);
    stt.send(new Uint8Array(640), Date.now());
    expect(stt.attempts).toBe(before + 1);
    stt.close();
  });

  it("a refused key gives up at once", async () => {
    const { stt, told } = link(() => Promise.reject(VoiceProviderError.refused("Deepgram", 401)));
    stt.send(new Uint8Array(640), Date.now());
    await vi.advanceTimersByTimeAsync(0);
    expect(told).toEqual(["gave up"]);
    expect(stt.attempts).toBe(1);
  });

  it("a socket that leaves audio unanswered is replaced, and the audio sent again", async () => {
    const sockets: Uint8Array[][] = [];
    const events: ((e: SttEvent) => void)[] = [];
    const { stt, told } = link(async (onEvent) => {
      const sent: Uint8Array[] = [];
      sockets.push(sent);
      events.push(onEvent);
      return socket(sent);
    });
    const start = Date.now();
    while (sockets.length < 2 && Date.now() - start < 5_000) {
      stt.send(new Uint8Array(640), Date.now());
      await vi.advanceTimersByTimeAsync(20);
    }
    expect(Date.now() - start).toBeGreaterThanOrEqual(1_000);
    expect(sockets).toHaveLength(2);
    expect(told).toEqual(["trouble"]);
    // Everything went again on the new socket, nothing was final.
    expect(sockets[1]?.length).toBe(sockets[0]?.length);
    // It answers: what it made final is not kept any more.
    events[1]?.({ type: "alive" });
    events[1]?.({ type: "finalized", throughSec: 1 });
    events[1]?.({ type: "closed", code: 1011, reason: "drop" });
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets).toHaveLength(3);
    expect(sockets[2]?.length).toBe((sockets[1]?.length ?? 0) - 50);
    stt.close();
  });
});

describe("SpeechOutput when speech fails", () => {
  /** 10 ms of audio per character, as the fake Aura speaks; texts with "!" fail as told. */
  function speechWith(fail: (text: string) => "hang" | "error" | undefined) {
    const synthesize: Synthesize = async (text, signal, onAudio) => {
      const how = fail(text);
      if (how === "error")
        throw new VoiceProviderError("Aura warning: dropped", { retryable: false });
      if (how === "hang") {
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        return;
      }
      onAudio(new Uint8Array(text.length * 10 * 32));
    };
    const sent: { bytes: number; replyStart: boolean }[] = [];
    const failed: boolean[] = [];
    const marks: TurnMarks = {};
    const speech = new SpeechOutput({
      synthesize,
      sendAudio: (pcm, replyStart) => sent.push({ bytes: pcm.byteLength, replyStart }),
      marks,
      timeoutMs: 50,
      maxTextChars: 40,
      apologyClip: () => new Uint8Array(3_200), // 100 ms
      onFirstAudio: () => undefined,
      onError: () => undefined,
      onFailed: (clipPlayed) => failed.push(clipPlayed),
    });
    const bytes = () => sent.reduce((n, s) => n + s.bytes, 0);
    return { speech, sent, failed, marks, bytes };
  }

  it("a sentence with no audio by its deadline: not heard, the rest not spoken, the apology once", async () => {
    const { speech, failed, bytes } = speechWith((t) => (t.includes("stuck") ? "hang" : undefined));
    speech.write("The first sentence is fine. This one is stuck forever. The third one waits.");
    const started = Date.now();
    await speech.end();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(failed).toEqual([true]);
    expect(speech.failed).toBe(true);
    expect(speech.spoken).toEqual(["The first sentence is fine."]);
    expect(bytes()).toBe("The first sentence is fine.".length * 320 + 3_200);
    // What the caller heard never includes the failed sentence, whatever the page played.
    expect(speech.heardText(10_000)).toBe("The first sentence is fine.");
  });

  it("a sentence cut off mid-audio: what arrived before the cut is sent, joined or not, then the apology", async () => {
    const sent: number[] = [];
    const failed: boolean[] = [];
    const speech = new SpeechOutput({
      // 300 ms for the first sentence; the second sends three 20 ms pieces and breaks off.
      synthesize: async (text, _signal, onAudio) => {
        if (!text.startsWith("Cut")) return onAudio(new Uint8Array(text.length * 10 * 32));
        for (let i = 0; i < 3; i++) onAudio(new Uint8Array(640));
        throw new VoiceProviderError("Aura dropped", { retryable: true });
      },
      sendAudio: (pcm) => sent.push(pcm.byteLength),
      marks: {},
      apologyClip: () => new Uint8Array(3_200),
      onFirstAudio: () => undefined,
      onError: () => undefined,
      onFailed: (clipPlayed) => failed.push(clipPlayed),
    });
    speech.write("The first sentence is fine. Cut off in the middle. ");
    await speech.end();
    expect(failed).toEqual([true]);
    // The first sentence in 100 ms frames; past them, pieces are joined: the three leave as one
    // frame, before the clip.
    expect(sent).toEqual([3_200, 3_200, 2_240, 1_920, 3_200]);
  });

  it("a provider warning fails its sentence like an error", async () => {
    const { speech, failed, bytes } = speechWith((t) => (t.includes("warn") ? "error" : undefined));
    speech.write("This one will warn us. ");
    await speech.end();
    expect(failed).toEqual([true]);
    expect(speech.spoken).toEqual([]);
    expect(bytes()).toBe(3_200);
  });

  it("splits what is over the synthesiser's limit; an aside is heard but is not the reply", async () => {
    const { speech, sent, marks } = speechWith(() => undefined);
    speech.modelRequested();
    speech.aside("One moment, please.");
    speech.write("A long sentence, with a clause in it, that goes past forty characters.");
    await speech.end();
    expect(speech.spoken).toEqual([
      "A long sentence, with a clause in it,",
      "that goes past forty characters.",
    ]);
    expect(speech.heardText(100_000)).toBe(speech.spoken.join(" "));
    // The aside came first (and opened the turn's audio); the reply's latency is its own.
    expect(sent[0]?.replyStart).toBe(true);
    expect(marks.firstAudioSentAt).toBeDefined();
    expect(speech.sentMs).toBe(("One moment, please.".length + 69) * 10);
  });
});
