import { neon, neonConfig } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-http";
import * as schema from "./schema.ts";

export type Database = ReturnType<typeof createDatabase>;

export interface DatabaseConfig {
  /** A Neon (or Neon-protocol) connection string. */
  DATABASE_URL: string;
  /**
   * Where Neon's HTTP query protocol is served, when it is not Neon's own endpoint — the
   * embedded Postgres of `npm start` and the tests (scripts/neon-http-server.ts).
   */
  NEON_FETCH_ENDPOINT?: string;
}

/**
 * Neon's `neon()` over HTTP: one round trip per query or batch, no connection to hold open
 * in a Durable Object. `fetchEndpoint` is a module-global in the driver, so it is set from
 * configuration each time (all sessions in an isolate share one configuration).
 */
export function createDatabase(config: DatabaseConfig) {
  if (config.NEON_FETCH_ENDPOINT) neonConfig.fetchEndpoint = config.NEON_FETCH_ENDPOINT;
  return drizzle({ client: neon(config.DATABASE_URL), schema });
}
