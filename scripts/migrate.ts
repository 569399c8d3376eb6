/**
 * `npm run db:migrate`: applies migrations/ to the Neon database in DATABASE_URL, through the
 * same HTTP driver the Worker uses.
 */
import { createDatabase } from "../worker/db/client.ts";
import { migrateNeon } from "./neon-migrate.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("Set DATABASE_URL to your Neon connection string.");
  process.exit(2);
}
await migrateNeon(
  createDatabase({ DATABASE_URL: url, NEON_FETCH_ENDPOINT: process.env.NEON_FETCH_ENDPOINT }),
);
console.log("Migrations applied.");
