/**
 * Each test makes its own users in the shared test database, with PINs no other test uses.
 */
import { env } from "cloudflare:workers";
import { createDatabase } from "../../../worker/db/client.ts";
import { teamMemberships, teams, users } from "../../../worker/db/schema.ts";
import { hashPin } from "../../../worker/pin-hash.ts";

export const db = () => createDatabase(env);

/**
 * A random 8-digit PIN. Test files run in parallel, so uniqueness is settled by the insert.
 * Tests use 7-digit PINs when they need one that is surely wrong.
 */
function randomPin(): string {
  return String(10_000_000 + ((crypto.getRandomValues(new Uint32Array(1))[0] ?? 0) % 90_000_000));
}

export async function createUser(options: { name?: string; active?: boolean; team?: string } = {}) {
  const name = options.name ?? `Test User ${crypto.randomUUID().slice(0, 8)}`;
  let created: { user: typeof users.$inferSelect; pin: string } | undefined;
  // A PIN another test already holds conflicts on the unique hash: draw another.
  while (!created) {
    const pin = randomPin();
    const [user] = await db()
      .insert(users)
      .values({
        name,
        email: `${crypto.randomUUID()}@test.convonet.dev`,
        timezone: "Europe/Berlin",
        active: options.active ?? true,
        pinHash: await hashPin(pin, env.PIN_SECRET),
      })
      .onConflictDoNothing()
      .returning();
    if (user) created = { user, pin };
  }
  const { user, pin } = created;
  if (options.team) {
    const [team] = await db()
      .insert(teams)
      .values({ name: `${options.team} ${crypto.randomUUID().slice(0, 8)}` })
      .returning();
    if (!team) throw new Error("team not created");
    await db().insert(teamMemberships).values({ teamId: team.id, userId: user.id, role: "admin" });
  }
  return { ...user, pin };
}
