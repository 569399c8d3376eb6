/**
 * What the signed-in user may see and change. Every tool starts here, so scoping is decided
 * in one place: the user's own rows, plus their teams' rows, nothing else.
 */
import { and, eq, inArray, or, type SQL } from "drizzle-orm";
import { teamMemberships, teams, todos, users } from "../../worker/db/schema.ts";
import { type ToolContext, ToolInputError } from "./types.ts";

export type Role = "owner" | "admin" | "member" | "viewer";

export interface Membership {
  teamId: string;
  teamName: string;
  role: Role;
}

export async function myMemberships(ctx: ToolContext): Promise<Membership[]> {
  return ctx.db
    .select({ teamId: teams.id, teamName: teams.name, role: teamMemberships.role })
    .from(teamMemberships)
    .innerJoin(teams, eq(teams.id, teamMemberships.teamId))
    .where(eq(teamMemberships.userId, ctx.user.id));
}

/** Todos the user can see: created by or assigned to them, or belonging to one of their teams. */
export function visibleTodos(ctx: ToolContext, memberships: Membership[]): SQL {
  const mine = or(eq(todos.creatorId, ctx.user.id), eq(todos.assigneeId, ctx.user.id));
  const teamIds = memberships.map((m) => m.teamId);
  return (teamIds.length ? or(mine, inArray(todos.teamId, teamIds)) : mine) as SQL;
}

/** Case-insensitive: an exact name first, else a unique prefix; ambiguity is an error. */
export function pickByName<T>(
  items: T[],
  name: string,
  nameOf: (item: T) => string,
  what: string,
): T {
  const wanted = name.trim().toLowerCase();
  const exact = items.filter((i) => nameOf(i).toLowerCase() === wanted);
  const candidates = exact.length
    ? exact
    : items.filter((i) => nameOf(i).toLowerCase().startsWith(wanted));
  if (candidates.length === 1 && candidates[0] !== undefined) return candidates[0];
  if (candidates.length > 1) {
    throw new ToolInputError(
      `More than one ${what} matches "${name}": ${candidates.map(nameOf).join(", ")}.`,
    );
  }
  throw new ToolInputError(`No ${what} called "${name}" that you can use.`);
}

export function teamByName(memberships: Membership[], name: string): Membership {
  return pickByName(memberships, name, (m) => m.teamName, "team of yours");
}

export async function teamMembers(ctx: ToolContext, teamId: string) {
  return ctx.db
    .select({ id: users.id, name: users.name, role: teamMemberships.role })
    .from(teamMemberships)
    .innerJoin(users, eq(users.id, teamMemberships.userId))
    .where(and(eq(teamMemberships.teamId, teamId), eq(users.active, true)));
}

/** "me", "myself" or the user's own name mean the user. */
export function isSelf(ctx: ToolContext, name: string): boolean {
  const n = name.trim().toLowerCase();
  return n === "me" || n === "myself" || n === ctx.user.name.toLowerCase();
}

export const canAssign = (role: Role) => role !== "viewer";
export const canManage = (role: Role) => role === "owner" || role === "admin";
