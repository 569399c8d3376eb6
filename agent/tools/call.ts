import { z } from "zod";
import { defineTool, fail, ok } from "./types.ts";

/**
 * Ends the call when the caller takes their leave. A tool the model chooses, not a word match:
 * "mark it as done" or "that's done" is about a todo, and the original Convonet hung up on it.
 */
export const endCall = defineTool({
  name: "end_call",
  description:
    'Ends this call, after your reply has been heard. Only when the caller is clearly saying goodbye or that they need nothing more ("goodbye", "that\'s all, thanks", "bye"). Never for "done" about a todo ("mark it as done", "that one\'s done"), and not if they still have a question. Say a short, warm goodbye in the same reply.',
  input: z.object({}),
  async run(_input, ctx) {
    const answer = ctx.endCall
      ? await ctx.endCall()
      : { ok: false as const, message: "There is no call to end here." };
    if (!answer.ok) return fail(answer.message);
    return ok(
      "The call ends as soon as your goodbye has been heard. If you have not said goodbye yet, say one short goodbye now and nothing else.",
      "Ending the call",
    );
  },
});

export const CALL_TOOLS = [endCall];
