import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    silent: "passed-only",
    projects: [
      {
        test: {
          name: "node",
          environment: "node",
          include: ["test/unit/**/*.test.ts", "test/db/**/*.test.ts", "test/browser/**/*.test.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // The embedded Postgres started by global-setup, reached through Neon's driver.
              bindings: {
                DATABASE_URL: inject<string>("databaseUrl"),
                NEON_FETCH_ENDPOINT: inject<string>("neonFetchEndpoint"),
                PIN_SECRET: "test-pin-secret-0123456789abcdef",
                ANTHROPIC_API_KEY: "test-anthropic-key",
                ANTHROPIC_BASE_URL: inject<string>("anthropicBaseUrl"),
                // Retries are real; shorter backoff keeps the fault tests quick.
                AGENT_RETRY_BASE_DELAY_MS: "20",
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          globalSetup: ["test/workers/global-setup.ts"],
          testTimeout: 20_000,
        },
      },
    ],
  },
});
