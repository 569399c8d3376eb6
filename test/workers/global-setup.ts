/**
 * Runs in Node before the workerd tests: a fresh in-memory Postgres (PGlite, migrated with
 * the real migrations) behind the Neon HTTP protocol, and the fakes of the Anthropic Messages
 * API and of Deepgram, each on a port of its own.
 */
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { openEmbeddedPostgres } from "../../scripts/embedded-postgres.ts";
import { localConnectionString, startNeonHttpServer } from "../../scripts/neon-http-server.ts";
import { pgliteBackend } from "../../scripts/sql-backends.ts";
import { startFakeAnthropic } from "../fakes/anthropic/server.ts";
import { startFakeDeepgram } from "../fakes/deepgram/server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    neonFetchEndpoint: string;
    anthropicBaseUrl: string;
    deepgramBaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const db = await openEmbeddedPostgres();
  const password = randomBytes(12).toString("hex");
  const server = await startNeonHttpServer({ backend: pgliteBackend(db), password });
  project.provide("databaseUrl", localConnectionString(password, server.port));
  project.provide("neonFetchEndpoint", server.url);
  const anthropic = await startFakeAnthropic({ apiKey: "test-anthropic-key" });
  project.provide("anthropicBaseUrl", anthropic.url);
  const deepgram = await startFakeDeepgram({ apiKey: "test-deepgram-key" });
  project.provide("deepgramBaseUrl", deepgram.url);
  return async () => {
    // Bounded: a connection some failed test left open must not hang the whole run.
    await Promise.race([
      Promise.all([deepgram.close(), anthropic.close(), server.close()]).then(() => db.close()),
      new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
    ]);
  };
}
