import type { RunnableConfig } from "@langchain/core/runnables";
import { MemorySaver } from "@langchain/langgraph";
import type { PendingWrite } from "@langchain/langgraph-checkpoint";
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

/** LangGraph's in-memory saver, counting the pending writes stored (what `updateState` adds). */
class CountingSaver extends MemorySaver {
  pendingWritesStored = 0;
  override async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string) {
    this.pendingWritesStored += writes.length;
    return super.putWrites(config, writes, taskId);
  }
}

describe("recordFullAnswer", () => {
  it("writes, after a finished run, the checkpoint updateState writes, without its pending writes", async () => {
    const sides = ["updateState", "recorded"].map(() => {
      const checkpointer = new CountingSaver();
      const deps = {
        model: scriptedModel(["Your next task is the dentist."]),
        tools: [],
        checkpointer,
        retry: DEFAULT_RETRY_POLICY,
      };
      return { checkpointer, graph: buildAgentGraph(deps) };
    });
    const config = { configurable: { thread_id: "call" } };
    const added: MessageParam[] = [
      { role: "user", content: "and after that?" },
      { role: "assistant", content: "Nothing else today." },
    ];
    for (const side of sides) {
      await side.graph.invoke(
        { messages: say("what's next?") },
        { configurable: { ...config.configurable, turn: turnContext() } },
      );
    }
    const [viaUpdate, viaRecord] = sides as [(typeof sides)[0], (typeof sides)[0]];
    const before = await viaRecord.checkpointer.getTuple(config);
    const storedBefore = viaRecord.checkpointer.pendingWritesStored;
    await viaUpdate.graph.updateState(config, { messages: added }, "model");
    const turn = turnContext();
    await recordFullAnswer(
      viaRecord.graph,
      viaRecord.checkpointer,
      "call",
      added.slice(0, 1),
      "Nothing else today.",
      turn,
    );
    expect({ historyStart: turn.historyStart, replyAt: turn.replyAt }).toEqual({
      historyStart: 2,
      replyAt: 3,
    });
    // Not through updateState: it stores the update's writes against the previous checkpoint.
    expect(viaRecord.checkpointer.pendingWritesStored).toBe(storedBefore);
    expect(viaUpdate.checkpointer.pendingWritesStored).toBeGreaterThan(storedBefore);
    const [updated, recorded] = await Promise.all(
      sides.map((side) => side.checkpointer.getTuple(config)),
    );
    const { id: _u, ts: _ut, ...updatedCheckpoint } = updated?.checkpoint ?? {};
    const { id, ts, ...recordedCheckpoint } = recorded?.checkpoint ?? {};
    expect(recordedCheckpoint).toEqual(updatedCheckpoint);
    expect(recorded?.metadata).toEqual(updated?.metadata);
    expect(recorded?.pendingWrites).toEqual([]);
    expect(recorded?.parentConfig?.configurable?.checkpoint_id).toBe(before?.checkpoint.id);
    // A new checkpoint id, after the one before (ids sort by time: the latest is the newest).
    expect(id && before && id > before.checkpoint.id).toBe(true);
    expect(Date.parse(ts ?? "")).not.toBeNaN();
  });

  it("records whole answers with no tool as the graph's runs record them, and the next run goes on from them", async () => {
    // The first is recorded on a thread with no checkpoint yet (updateState), the second on the
    // checkpoint the first left (written by hand).
    const answers = ["Your next task is the dentist.", "At three.", "Anything else?"];
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
    for (const [round, said] of ["what's next?", "when?"].entries()) {
      const turns: TurnContext[] = [];
      for (const [i, side] of sides.entries()) {
        const turn = turnContext();
        const input = say(said);
        const early = startModelCall(side.deps, input, turn);
        await early.settled;
        const answer = early.fullAnswer();
        expect(answer).toBe(answers[round]);
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
    }
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
    expect(after?.values.messages).toHaveLength(6);
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
