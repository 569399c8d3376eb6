/** A benchmark yardstick (scripts/bench-voice/yardstick.ts) started as the bench starts it, over fresh provider fakes. */
import { type AppProcess, startAppProcess } from "../../scripts/app-process.ts";
import { type Yardstick, yardstickStart } from "../../scripts/bench-voice/yardstick.ts";
import { type FakeAnthropic, startFakeAnthropic } from "../fakes/anthropic/server.ts";
import { type FakeDeepgram, startFakeDeepgram } from "../fakes/deepgram/server.ts";

export interface RunningYardstick {
  app: AppProcess;
  deepgram: FakeDeepgram;
  anthropic: FakeAnthropic;
  stop(): Promise<void>;
}

export async function startYardstick(yardstick: Yardstick): Promise<RunningYardstick> {
  const deepgram = await startFakeDeepgram();
  const anthropic = await startFakeAnthropic();
  const app = await startAppProcess(
    {
      ANTHROPIC_API_KEY: "test-anthropic-key",
      ANTHROPIC_BASE_URL: anthropic.url,
      DEEPGRAM_API_KEY: "test-deepgram-key",
      DEEPGRAM_BASE_URL: deepgram.url,
      X_LOCAL_OBSERVABILITY: "false",
    },
    { entry: yardstickStart(yardstick) },
  ).catch(async (error: unknown) => {
    await anthropic.close();
    await deepgram.close();
    throw error;
  });
  return {
    app,
    deepgram,
    anthropic,
    stop: async () => {
      await app.stop();
      await anthropic.close();
      await deepgram.close();
    },
  };
}
