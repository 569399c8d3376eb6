/**
 * The embedded Postgres of `npm start` and the tests: PGlite in-process (real Postgres
 * compiled to wasm), migrated with the same SQL files production gets.
 */
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations", import.meta.url));

/** Opens (or creates) the database in `dataDir`, or in memory when none is given. */
export async function openEmbeddedPostgres(dataDir?: string): Promise<PGlite> {
  const db = dataDir ? new PGlite(dataDir) : new PGlite();
  await db.waitReady;
  await migrate(drizzle({ client: db }), { migrationsFolder: MIGRATIONS_DIR });
  return db;
}
