/**
 * A plain Postgres (not Neon) for `npm start`: migrated with node-postgres, then served to the
 * Worker through the local Neon-protocol server, since the Worker speaks only Neon's driver.
 */
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { MIGRATIONS_DIR } from "./embedded-postgres.ts";
import { type NeonHttpServer, startNeonHttpServer } from "./neon-http-server.ts";
import { postgresBackend } from "./sql-backends.ts";

export async function servePostgres(
  url: string,
  options: { password: string; port?: number },
): Promise<{ server: NeonHttpServer; close(): Promise<void> }> {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  // An idle client losing its connection must not crash the process.
  pool.on("error", (error) => console.error(`[postgres] idle client error: ${error.message}`));
  await migrate(drizzle({ client: pool }), { migrationsFolder: MIGRATIONS_DIR });
  const server = await startNeonHttpServer({ backend: postgresBackend(pool), ...options });
  return {
    server,
    close: async () => {
      await server.close();
      await pool.end();
    },
  };
}

/** Neon's own databases (and anything given a Neon-protocol endpoint) need no local server. */
export function speaksNeonHttp(url: string, fetchEndpoint: string | undefined): boolean {
  if (fetchEndpoint) return true;
  try {
    return new URL(url).hostname.endsWith(".neon.tech");
  } catch {
    return false;
  }
}
