import { and, count, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { humanAgents } from "../../worker/db/schema.ts";
import { defineTool, fail, ok, type ToolContext } from "./types.ts";

async function departments(ctx: ToolContext) {
  return ctx.db
    .select({ department: humanAgents.department, agents: count() })
    .from(humanAgents)
    .where(eq(humanAgents.active, true))
    .groupBy(humanAgents.department)
    .orderBy(humanAgents.department);
}

export const listDepartments = defineTool({
  name: "list_departments",
  description: "The departments with human agents the caller can be transferred to.",
  input: z.object({}),
  async run(_input, ctx) {
    const rows = await departments(ctx);
    if (rows.length === 0) return ok("No human agents are available.");
    return ok(
      rows.map((r) => `${r.department} (${r.agents} agent${r.agents === 1 ? "" : "s"})`).join("\n"),
    );
  },
});

export const transferToAgent = defineTool({
  name: "transfer_to_agent",
  description:
    "Transfers this live CALL to a human agent in a department. Only when the caller has asked to speak to a person AND confirmed the transfer. Never use it to move or reassign a todo (use update_todo for that).",
  input: z.object({
    department: z.string().trim().min(1).max(50),
    reason: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .describe("Why the caller wants a person, in a sentence"),
  }),
  async run(input, ctx) {
    const [known] = await ctx.db
      .select({ department: humanAgents.department })
      .from(humanAgents)
      .where(
        and(
          eq(humanAgents.active, true),
          sql`lower(${humanAgents.department}) = ${input.department.toLowerCase()}`,
        ),
      )
      .limit(1);
    if (!known) {
      const names = (await departments(ctx)).map((d) => d.department).join(", ");
      return fail(`There is no "${input.department}" department. Departments: ${names || "none"}.`);
    }
    const answer = await ctx.requestTransfer({
      department: known.department,
      reason: input.reason,
    });
    if (answer.ok) {
      const who = answer.agentName
        ? `${answer.agentName} in ${answer.department}`
        : answer.department;
      return ok(
        `Calling ${who} now (extension ${answer.extension}); they get the reason and a summary of this call. Tell the caller in one short sentence that you are connecting them to ${who} and that they will hear ringing. Say nothing else.`,
        `Calling ${who}`,
      );
    }
    if (answer.reason === "not_configured") {
      return ok(
        `Transfer to a person is not set up on this service, so nobody can be called; the request for ${known.department} was recorded. Tell the caller plainly, and offer to help with something else.`,
        `Transfer to ${known.department} not available`,
      );
    }
    return fail(answer.message);
  },
});

export const TRANSFER_TOOLS = [listDepartments, transferToAgent];
