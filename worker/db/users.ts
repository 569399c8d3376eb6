import { and, eq } from "drizzle-orm";
import type { Database } from "./client.ts";
import { callSessions, teamMemberships, teams, users } from "./schema.ts";

export interface SignedInUser {
  id: string;
  name: string;
  email: string;
  timezone: string;
  teams: { id: string; name: string; role: string }[];
}

/** One indexed lookup on the PIN's keyed hash; inactive users cannot sign in. */
export async function findActiveUserByPinHash(
  db: Database,
  pinHash: string,
): Promise<SignedInUser | null> {
  const [user] = await db
    .select({ id: users.id, name: users.name, email: users.email, timezone: users.timezone })
    .from(users)
    .where(and(eq(users.pinHash, pinHash), eq(users.active, true)))
    .limit(1);
  if (!user) return null;
  const memberships = await db
    .select({ id: teams.id, name: teams.name, role: teamMemberships.role })
    .from(teamMemberships)
    .innerJoin(teams, eq(teams.id, teamMemberships.teamId))
    .where(eq(teamMemberships.userId, user.id))
    .orderBy(teams.name);
  return { ...user, teams: memberships };
}

export async function recordCallSessionStart(db: Database, sessionId: string, userId: string) {
  await db.insert(callSessions).values({ id: sessionId, userId }).onConflictDoNothing();
}

export async function recordCallSessionEnd(db: Database, sessionId: string, reason: string) {
  await db
    .update(callSessions)
    .set({ endedAt: new Date(), endReason: reason })
    .where(eq(callSessions.id, sessionId));
}
