/**
 * The benchmark's library yardstick (scripts/bench-voice/library: `@cloudflare/voice`, installed
 * from its own lockfile by the project's `npm install`) answers a spoken turn the way the bench's library page
 * (library-call.ts) reads it: started as the app is, over the provider fakes. A yardstick that
 * drifted from the library's protocol, or from the fakes, would otherwise only show as a failed
 * benchmark run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLibraryPage } from "../../scripts/bench-voice/library-call.ts";
import { ensureLibraryInstalled } from "../../scripts/bench-voice/yardstick.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { deepgramLog, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { type RunningYardstick, startYardstick } from "../support/yardstick.ts";

let library: RunningYardstick;

beforeAll(async () => {
  ensureLibraryInstalled();
  library = await startYardstick("library");
}, 180_000);

afterAll(() => library?.stop());

describe("the benchmark's library yardstick", () => {
  it("answers a spoken turn: the utterance to Claude, the reply's sentences to Aura, its audio to the page, then listens", async () => {
    const tag = `[lib${crypto.randomUUID().slice(0, 6)}]`;
    const call = openLibraryPage(library.app.url, 0, tag);
    const name = await call.signIn("");
    call.turns.push({ endAudioMs: 1_000, late: false, frames: 0 });
    await scriptDeepgram(library.deepgram.url, name, [
      { text: `${tag} what's next?`, afterAudioMs: 1_000 },
    ]);
    await scriptClaude(library.anthropic.url, tag, [
      { kind: "text", text: "Your next task is the dentist. Anything else?" },
    ]);
    const replied = new Promise<number>((resolve) => {
      call.onReplyDone = (_, turn) => resolve(turn);
    });
    for (let i = 1; i <= 15; i++) call.tick(i * 100);

    expect(await replied).toBe(0);
    const turn = call.turns[0];
    expect(turn?.frames).toBeGreaterThan(0);
    expect(turn?.replyAt).toBeLessThanOrEqual(turn?.lastFrameAt ?? 0);
    const log = await deepgramLog(library.deepgram.url, name);
    expect(log.spoken).toEqual(["Your next task is the dentist.", "Anything else?"]);
    call.close();
  }, 30_000);
});
