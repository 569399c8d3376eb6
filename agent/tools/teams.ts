import { count, inArray } from "drizzle-orm";
import { z } from "zod";
import { teamMemberships } from "../../worker/db/schema.ts";
import { myMemberships, teamByName, teamMembers } from "./scope.ts";
import { TimeInput } from "./time.ts";
import { createTodo } from "./todos.ts";
import { defineTool, ok } from "./types.ts";

export const listMyTeams = defineTool({
  name: "list_my_teams",
  description: "The caller's teams, with their role in each and how many members each has.",
  input: z.object({}),
  async run(_input, ctx) {
    const memberships = await myMemberships(ctx);
    if (memberships.length === 0) return ok("The caller is in no teams.");
    const sizes = await ctx.db
      .select({ teamId: teamMemberships.teamId, n: count() })
      .from(teamMemberships)
      .where(
        inArray(
          teamMemberships.teamId,
          memberships.map((m) => m.teamId),
        ),
      )
      .groupBy(teamMemberships.teamId);
    const size = (id: string) => sizes.find((s) => s.teamId === id)?.n ?? 0;
    return ok(
      memberships.map((m) => `${m.teamName}: role ${m.role}, ${size(m.teamId)} members`).join("\n"),
    );
  },
});

export const listTeamMembers = defineTool({
  name: "list_team_members",
  description: "Members of one of the caller's teams, with their roles.",
  input: z.object({ team: z.string().min(1).max(100) }),
  async run(input, ctx) {
    const team = teamByName(await myMemberships(ctx), input.team);
    const members = await teamMembers(ctx, team.teamId);
    return ok(`${team.teamName}:\n${members.map((m) => `${m.name} (${m.role})`).join("\n")}`);
  },
});

export const createTeamTodo = defineTool({
  name: "create_team_todo",
  description:
    "Create a todo in one of the caller's teams, assigned to a member by name. Viewers cannot assign.",
  input: z.object({
    team: z.string().min(1).max(100),
    title: z.string().trim().min(1).max(200),
    assignee: z.string().min(1).max(100),
    priority: z.enum(["low", "medium", "high", "urgent"]).optional(),
    due: TimeInput.optional(),
  }),
  run: (input, ctx) => createTodo.run(input, ctx),
});

export const TEAM_TOOLS = [listMyTeams, listTeamMembers, createTeamTodo];
