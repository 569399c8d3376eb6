/**
 * The benchmark's floor relay (scripts/bench-voice/floor) answers a spoken turn the way the
 * bench reads the app's: started as the app is (`startAppProcess`), over the provider fakes, its
 * messages parsed with the page protocol's own schema. A relay that drifted from the protocol
 * would otherwise only show as a failed benchmark run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AudioFrameFlag, AudioFrameKind } from "../../protocol/audio-frame.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { deepgramLog, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { NodeCaller } from "../support/node-caller.ts";
import { type RunningYardstick, startYardstick } from "../support/yardstick.ts";

/** 100 ms of 16 kHz PCM16 silence. */
const SILENCE = new Uint8Array(3_200);

let floor: RunningYardstick;

beforeAll(async () => {
  floor = await startYardstick("floor");
});

afterAll(() => floor?.stop());

describe("the benchmark's floor relay", () => {
  it("answers a spoken turn: the reply's sentences to Aura, its audio to the page, the turn's figures and its end", async () => {
    const { caller, signedIn } = await NodeCaller.signIn(floor.app.url, "0000");
    const tag = `[floor${crypto.randomUUID().slice(0, 6)}]`;
    await scriptDeepgram(floor.deepgram.url, signedIn.sessionId, [
      { text: `${tag} what's next?`, afterAudioMs: 1_000 },
    ]);
    await scriptClaude(floor.anthropic.url, tag, [
      { kind: "text", text: "Your next task is the dentist. Anything else?" },
    ]);
    for (let i = 0; i < 15; i++) caller.sendPcm(SILENCE);

    await caller.until("voice_metrics");
    const done = await caller.until("assistant_done", () => true, 15_000);
    expect(done.entry.text).toBe("Your next task is the dentist. Anything else?");
    const reply = caller.audio.filter((frame) => frame.kind === AudioFrameKind.AssistantPcm);
    expect(reply.length).toBeGreaterThan(1);
    // The bench times a reply from the frame that says it starts: the first, and only the first.
    expect(reply.map((frame) => frame.flags & AudioFrameFlag.ReplyStart)).toEqual([
      AudioFrameFlag.ReplyStart,
      ...reply.slice(1).map(() => 0),
    ]);
    const log = await deepgramLog(floor.deepgram.url, signedIn.sessionId);
    expect(log.spoken).toEqual(["Your next task is the dentist.", "Anything else?"]);
    caller.close();
  });
});
