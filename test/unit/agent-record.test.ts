import { MemorySaver } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import {
  buildAgentGraph,
  recordFullAnswer,
  startModelCall,
  type TurnContext,
} from "../../agent/graph.ts";
import { DEFAULT_RETRY_POLICY } from "../../agent/llm/retry.ts";
import type { ChatModel, MessageParam, ModelEvent } from "../../agent/llm/types.ts";

/** Claude's answers, in order: the graph's model dependency, scripted (the wire is tested elsewhere). */
function scriptedModel(answers: MessageParam["content"][]): ChatModel {
  let next = 0;
  return {
    name: "scripted",
    async *stream(): AsyncIterable<ModelEvent> {
      const content = answers[next++];
      if (content === undefined) throw new Error("no answer scripted");
      if (typeof content === "string") yield { type: "text", delta: content };
      yield { type: "done", content, stopReason: "end_turn" };
    },
  };
}

function turnContext(): TurnContext {
  return {
    signal: new AbortController().signal,
    emit: () => undefined,
    system: "",
    tool: {} as TurnContext["tool"],
    startedAt: Date.now(),
    inputCount: 1,
  };
}

const say = (text: string): MessageParam[] => [{ role: "user", content: text }];

describe("recordFullAnswer", () => {
  it("records a whole answer with no tool as the graph's run records it, and the next run goes on from it", async () => {
    const answers = ["Your next task is the dentist.", "Anything else?"];
    const sides = ["ran", "recorded"].map(() => {
      const checkpointer = new MemorySaver();
      const deps = {
        model: scriptedModel([...answers]),
        tools: [],
        checkpointer,
        retry: DEFAULT_RETRY_POLICY,
      };
      return { deps, graph: buildAgentGraph(deps) };
    });
    const config = { configurable: { thread_id: "call" } };
    const turns: TurnContext[] = [];
    for (const [i, side] of sides.entries()) {
      const turn = turnContext();
      const input = say("what's next?");
      const early = startModelCall(side.deps, input, turn);
      await early.settled;
      const answer = early.fullAnswer();
      expect(answer).toBe(answers[0]);
      if (i === 0) {
        turn.earlyCall = early;
        await side.graph.invoke(
          { messages: input },
          { configurable: { ...config.configurable, turn }, durability: "exit" },
        );
      } else if (answer !== undefined) {
        await recordFullAnswer(side.graph, side.deps.checkpointer, "call", input, answer, turn);
      }
      turns.push(turn);
    }
    const [ran, recorded] = await Promise.all(sides.map((side) => side.graph.getState(config)));
    expect(recorded?.values).toEqual(ran?.values);
    expect(recorded?.next).toEqual([]);
    expect(recorded?.next).toEqual(ran?.next);
    expect({ start: turns[1]?.historyStart, reply: turns[1]?.replyAt }).toEqual({
      start: turns[0]?.historyStart,
      reply: turns[0]?.replyAt,
    });
    // The next turn runs the graph on the recorded history, as on the one the graph wrote.
    for (const side of sides) {
      await side.graph.invoke(
        { messages: say("no") },
        {
          configurable: { ...config.configurable, turn: turnContext() },
        },
      );
    }
    const [after, afterRecorded] = await Promise.all(
      sides.map((side) => side.graph.getState(config)),
    );
    expect(afterRecorded?.values).toEqual(after?.values);
    expect(after?.values.messages).toHaveLength(4);
  });

  it("has no whole answer to record when the answer asks for a tool", async () => {
    const content: MessageParam["content"] = [
      { type: "text", text: "Let me check." },
      { type: "tool_use", id: "t1", name: "list_todos", input: {} },
    ];
    const deps = { model: scriptedModel([content]), tools: [], checkpointer: new MemorySaver() };
    const early = startModelCall(deps, say("what's next?"), turnContext());
    await early.settled;
    expect(early.fullAnswer()).toBeUndefined();
  });
});
