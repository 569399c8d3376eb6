/**
 * The embedded Postgres of `npm start` and the tests: PGlite in-process (real Postgres
 * compiled to wasm), migrated with the same SQL files production gets.
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations", import.meta.url));

/** Opens (or creates) the database in `dataDir`, or in memory when none is given. */
export async function openEmbeddedPostgres(dataDir?: string): Promise<PGlite> {
  // PGlite creates the data folder itself, but not its parents (.data/ on a fresh clone).
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = dataDir ? new PGlite(dataDir) : new PGlite();
  await db.waitReady;
  await migrate(drizzle({ client: db }), { migrationsFolder: MIGRATIONS_DIR });
  return db;
}
