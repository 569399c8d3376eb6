/**
 * The whole app for transfer tests, as `npm start` runs it, with every outside service faked on
 * a real socket: Claude, Deepgram and Twilio (which calls the app back on its public URL and
 * opens the media stream to it), and a Postgres the test can read (PGlite behind Neon's HTTP
 * protocol, owned by the test). It can be restarted on the same port with the same Durable
 * Object storage, as a runtime restart would.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/pglite";
import { afterAll, beforeAll } from "vitest";
import { type AppProcess, freePort, startAppProcess } from "../../../scripts/app-process.ts";
import { openEmbeddedPostgres } from "../../../scripts/embedded-postgres.ts";
import { localConnectionString, startNeonHttpServer } from "../../../scripts/neon-http-server.ts";
import { pgliteBackend } from "../../../scripts/sql-backends.ts";
import * as schema from "../../../worker/db/schema.ts";
import { startFakeAnthropic } from "../../fakes/anthropic/server.ts";
import { startFakeDeepgram } from "../../fakes/deepgram/server.ts";
import { type FakeTwilioOptions, startFakeTwilio } from "../../fakes/twilio/server.ts";

export const TWILIO_ACCOUNT = `AC${"0123456789abcdef".repeat(2)}`;
export const TWILIO_TOKEN = "test-twilio-auth-token";
export const SIP_DOMAIN = "pbx.test";

export interface TransferApp {
  url: string;
  anthropic: string;
  deepgram: string;
  twilio: string;
  db: ReturnType<typeof drizzle<typeof schema>>;
  /** Stops the app (not the fakes or the database) and starts it again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The test file's app: started before its tests and closed after them. The object is filled in
 * when it has started (in `beforeAll`), so tests may use it from then on.
 */
export function useTransferApp(
  extraEnv: Record<string, string> = {},
  twilioOptions: TwilioOptions = {},
): TransferApp {
  const app = {} as TransferApp;
  let started: TransferApp | undefined;
  beforeAll(async () => {
    started = await startTransferApp(extraEnv, twilioOptions);
    Object.assign(app, started);
  }, 120_000);
  afterAll(async () => {
    await started?.close();
  }, 30_000);
  return app;
}

/** The fake Twilio's behaviour beyond its account (test/fakes/twilio/server.ts). */
type TwilioOptions = Omit<FakeTwilioOptions, "accountSid" | "authToken">;

export async function startTransferApp(
  extraEnv: Record<string, string> = {},
  twilioOptions: TwilioOptions = {},
): Promise<TransferApp> {
  const pg = await openEmbeddedPostgres();
  const password = randomBytes(12).toString("hex");
  const neon = await startNeonHttpServer({ backend: pgliteBackend(pg), password });
  const anthropic = await startFakeAnthropic({ apiKey: "test-anthropic-key" });
  const deepgram = await startFakeDeepgram({ apiKey: "test-deepgram-key" });
  const twilio = await startFakeTwilio({
    ...twilioOptions,
    accountSid: TWILIO_ACCOUNT,
    authToken: TWILIO_TOKEN,
  });
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), "convonet-transfer-state-"));
  const env = {
    DATABASE_URL: localConnectionString(password, neon.port),
    NEON_FETCH_ENDPOINT: neon.url,
    ANTHROPIC_API_KEY: "test-anthropic-key",
    ANTHROPIC_BASE_URL: anthropic.url,
    DEEPGRAM_API_KEY: "test-deepgram-key",
    DEEPGRAM_BASE_URL: deepgram.url,
    TWILIO_ACCOUNT_SID: TWILIO_ACCOUNT,
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    TWILIO_CALLER_ID: "+15005550006",
    TWILIO_API_BASE_URL: twilio.url,
    FUSIONPBX_SIP_DOMAIN: SIP_DOMAIN,
    TRANSFER_RING_TIMEOUT_SECONDS: "4",
    TRANSFER_MEDIA_TIMEOUT_MS: "1500",
    ...extraEnv,
  };
  let app: AppProcess | undefined = await startAppProcess(env, { port, persistTo: state });
  const url = app.url;
  return {
    url,
    anthropic: anthropic.url,
    deepgram: deepgram.url,
    twilio: twilio.url,
    db: drizzle(pg, { schema }),
    async restart() {
      await app?.stop();
      app = undefined;
      app = await startAppProcess(env, { port, persistTo: state });
    },
    async close() {
      await app?.stop();
      await Promise.all([twilio.close(), deepgram.close(), anthropic.close(), neon.close()]);
      await pg.close();
      rmSync(state, { recursive: true, force: true });
    },
  };
}
