import { migrate } from "drizzle-orm/neon-http/migrator";
import type { Database } from "../worker/db/client.ts";
import { MIGRATIONS_DIR } from "./embedded-postgres.ts";

/** Applies migrations/ to a Neon database over its HTTP driver (`npm start` with DATABASE_URL). */
export async function migrateNeon(db: Database) {
  await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
}
