/**
 * The benchmark's library yardstick (scripts/bench-voice/library: `@cloudflare/voice`, installed
 * from its own lockfile on first use) answers a spoken turn the way the bench's library page
 * (library-call.ts) reads it: started as the app is, over the provider fakes. A yardstick that
 * drifted from the library's protocol, or from the fakes, would otherwise only show as a failed
 * benchmark run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppProcess, startAppProcess } from "../../scripts/app-process.ts";
import { openLibraryPage } from "../../scripts/bench-voice/library-call.ts";
import { ensureLibraryInstalled, yardstickStart } from "../../scripts/bench-voice/yardstick.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { type FakeAnthropic, startFakeAnthropic } from "../fakes/anthropic/server.ts";
import { deepgramLog, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { type FakeDeepgram, startFakeDeepgram } from "../fakes/deepgram/server.ts";

let deepgram: FakeDeepgram;
let anthropic: FakeAnthropic;
let app: AppProcess;

beforeAll(async () => {
  ensureLibraryInstalled();
  deepgram = await startFakeDeepgram();
  anthropic = await startFakeAnthropic();
  app = await startAppProcess(
    {
      ANTHROPIC_API_KEY: "test-anthropic-key",
      ANTHROPIC_BASE_URL: anthropic.url,
      DEEPGRAM_API_KEY: "test-deepgram-key",
      DEEPGRAM_BASE_URL: deepgram.url,
      X_LOCAL_OBSERVABILITY: "false",
    },
    { entry: yardstickStart("library") },
  );
}, 180_000);

afterAll(async () => {
  await app?.stop();
  await anthropic?.close();
  await deepgram?.close();
});

describe("the benchmark's library yardstick", () => {
  it("answers a spoken turn: the utterance to Claude, the reply's sentences to Aura, its audio to the page, then listens", async () => {
    const tag = `[lib${crypto.randomUUID().slice(0, 6)}]`;
    const call = openLibraryPage(app.url, 0, tag);
    const name = await call.signIn("");
    call.turns.push({ endAudioMs: 1_000, late: false, frames: 0 });
    await scriptDeepgram(deepgram.url, name, [
      { text: `${tag} what's next?`, afterAudioMs: 1_000 },
    ]);
    await scriptClaude(anthropic.url, tag, [
      { kind: "text", text: "Your next task is the dentist. Anything else?" },
    ]);
    const replied = new Promise<number>((resolve) => {
      call.onReplyDone = (_, turn) => resolve(turn);
    });
    for (let i = 0; i < 15; i++) call.tick();

    expect(await replied).toBe(0);
    const turn = call.turns[0];
    expect(turn?.frames).toBeGreaterThan(0);
    expect(turn?.replyAt).toBeLessThanOrEqual(turn?.lastFrameAt ?? 0);
    const log = await deepgramLog(deepgram.url, name);
    expect(log.spoken).toEqual(["Your next task is the dentist.", "Anything else?"]);
    call.close();
  }, 30_000);
});
