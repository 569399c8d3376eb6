import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";

/**
 * A project of tests that run inside workerd against the real Worker, with the embedded
 * Postgres and the provider fakes that test/workers/global-setup.ts starts.
 */
function workersProject(
  name: string,
  include: string[],
  bindings: Record<string, string> = {},
): TestProjectInlineConfiguration {
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            DATABASE_URL: inject<string>("databaseUrl"),
            NEON_FETCH_ENDPOINT: inject<string>("neonFetchEndpoint"),
            PIN_SECRET: "test-pin-secret-0123456789abcdef",
            ANTHROPIC_BASE_URL: inject<string>("anthropicBaseUrl"),
            DEEPGRAM_BASE_URL: inject<string>("deepgramBaseUrl"),
            // Retries are real; a shorter backoff keeps the fault tests quick.
            AGENT_RETRY_BASE_DELAY_MS: "20",
            AGENT_MODEL_IDLE_TIMEOUT_MS: "1500",
            // Voice faults (test/faults/voice-*): deadlines short enough for quick tests, and
            // a give-up later than the 10 s outage the caller must come through.
            DEEPGRAM_TTS_TIMEOUT_MS: "1500",
            DEEPGRAM_STT_SILENT_TIMEOUT_MS: "1500",
            DEEPGRAM_STT_RECONNECT_MAX_MS: "2000",
            DEEPGRAM_STT_GIVE_UP_MS: "15000",
            ...bindings,
          },
        },
      })),
    ],
    test: {
      name,
      include,
      globalSetup: ["test/workers/global-setup.ts"],
      setupFiles: ["test/workers/setup.ts"],
      // One isolate for all files: the Worker's modules load once, not once per file. Every
      // test owns its data (unique users, PINs, IPs, object names), so sharing it is safe.
      isolate: false,
      testTimeout: 20_000,
      hookTimeout: 60_000,
    },
  };
}

export default defineConfig({
  test: {
    silent: "passed-only",
    projects: [
      {
        test: {
          name: "node",
          environment: "node",
          include: [
            "test/unit/**/*.test.ts",
            "test/db/**/*.test.ts",
            "test/fakes/**/*.test.ts",
            "test/browser/**/*.test.ts",
            "test/transfer/**/*.test.ts",
            "test/app/**/*.test.ts",
            "test/live/**/*.test.ts",
          ],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // The agent dashboard end to end: Kamailio, the app, and Chromium (test/dashboard/).
          name: "dashboard",
          environment: "node",
          include: ["test/dashboard/*.test.ts"],
          testTimeout: 45_000,
          // A poll waits for a SIP or WebRTC event, which a busy machine can delay past 1 s.
          expect: { poll: { timeout: 8_000 } },
          hookTimeout: 90_000,
        },
      },
      workersProject("workers", ["test/workers/**/*.test.ts", "test/faults/**/*.test.ts"], {
        ANTHROPIC_API_KEY: "test-anthropic-key",
        DEEPGRAM_API_KEY: "test-deepgram-key",
      }),
      // The call's own timing (test/workers-calls/): a silence check-in after 1.5 s, the goodbye
      // after 4 s, and "One moment" for any tool still running after 1 ms.
      workersProject("workers-calls", ["test/workers-calls/**/*.test.ts"], {
        ANTHROPIC_API_KEY: "test-anthropic-key",
        DEEPGRAM_API_KEY: "test-deepgram-key",
        VOICE_SILENCE_CHECK_IN_MS: "1500",
        VOICE_SILENCE_GOODBYE_MS: "4000",
        VOICE_TOOL_HOLD_ON_MS: "1",
      }),
      // Voice with Deepgram Flux (eager end of turn) and Aura over plain HTTP.
      workersProject("workers-flux", ["test/workers-flux/**/*.test.ts"], {
        ANTHROPIC_API_KEY: "test-anthropic-key",
        DEEPGRAM_API_KEY: "test-deepgram-key",
        DEEPGRAM_STT_MODEL: "flux-general-en",
        DEEPGRAM_TTS_TRANSPORT: "http",
      }),
      // The agent dashboard's API, with a dashboard origin and a PBX configured.
      workersProject("dashboard-api", ["test/dashboard/api/**/*.test.ts"], {
        DASHBOARD_ORIGINS: "https://dashboard.convonet.test",
        FUSIONPBX_WSS_URL: "wss://pbx.convonet.test:7443",
        AGENT_ICE_SERVERS: '[{"urls":"stun:stun.convonet.test:3478"}]',
        AGENT_TURN_URLS: "turn:turn.convonet.test:3478, turns:turn.convonet.test:5349",
        AGENT_TURN_SECRET: "test-turn-secret-0123456789",
      }),
      // Transfers configured, but Twilio's API answers nothing (a closed local port; workerd logs
      // the refused connection as "uncaught" even though the code catches it).
      workersProject("workers-transfer", ["test/workers-transfer/**/*.test.ts"], {
        ANTHROPIC_API_KEY: "test-anthropic-key",
        TWILIO_ACCOUNT_SID: `AC${"0".repeat(32)}`,
        TWILIO_AUTH_TOKEN: "test-twilio-token",
        TWILIO_CALLER_ID: "+15005550006",
        TWILIO_API_BASE_URL: "http://127.0.0.1:9",
        FUSIONPBX_SIP_DOMAIN: "pbx.test",
        PUBLIC_URL: "https://convonet.test",
      }),
      // The same Worker with no Anthropic key, as on a fresh `npm start`.
      workersProject("workers-no-agent", ["test/workers-no-agent/**/*.test.ts"]),
    ],
  },
});
