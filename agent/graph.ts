/**
 * The agent: a LangGraph StateGraph of a model node (Claude, streaming) and a tools node,
 * looping until the model answers without calling a tool. State is the Messages API
 * conversation itself, checkpointed after every step by the checkpointer it is compiled with.
 *
 * Cancellation never throws through the graph: a cancelled model call keeps what was already
 * said, a cancelled tools node runs no further tool and reports the rest as not run, and both
 * edges then end the run. So the checkpoint after a cancelled turn is always consistent.
 */
import "./runtime.ts";
import {
  Annotation,
  END,
  type LangGraphRunnableConfig,
  START,
  StateGraph,
} from "@langchain/langgraph";
import {
  type BaseCheckpointSaver,
  type Checkpoint,
  type CheckpointTuple,
  emptyCheckpoint,
  maxChannelVersion,
  TASKS,
  uuid6,
} from "@langchain/langgraph-checkpoint";
import { CANCELLED_TOOL_RESULT, prepareForModel } from "./history.ts";
import { nextRetryDelay, type RetryPolicy, sleep } from "./llm/retry.ts";
import {
  type ChatModel,
  type MessageParam,
  ModelError,
  type ModelEvent,
  type ModelRequest,
  type ModelUsage,
} from "./llm/types.ts";
import { runTool, toAnthropicTools } from "./tools/index.ts";
import type { AgentTool, ToolContext } from "./tools/types.ts";

/**
 * Edits of the history after a turn, beside plain appends:
 * - `truncateReplyFrom`: the caller spoke over the reply; the last assistant message at or
 *   after that index keeps only what they heard (removed if they heard nothing);
 * - `rollbackTo`: a speculative turn the caller went on speaking over is undone entirely;
 * - `correctReplyAt`: the page reported what was really heard of a reply trimmed to the clock's
 *   estimate (`from`): the reply at that index says `to` instead. Later turns may have followed.
 */
export type MessagesEdit =
  | { truncateReplyFrom: number; heard: string }
  | { rollbackTo: number }
  | { correctReplyAt: number; from: string; to: string };

export const AgentState = Annotation.Root({
  messages: Annotation<MessageParam[], MessageParam[] | MessagesEdit>({
    reducer: (left, right) => {
      if (Array.isArray(right)) return left.concat(right);
      if ("rollbackTo" in right) return left.slice(0, right.rollbackTo);
      if ("correctReplyAt" in right) return correctReply(left, right);
      // Only a reply that ends the history: one cut off during a tool call has none to trim.
      const at = left.length - 1;
      if (at < right.truncateReplyFrom || left[at]?.role !== "assistant") return left;
      const kept = right.heard.trim();
      return kept
        ? left.with(at, { role: "assistant", content: kept })
        : left.filter((_, i) => i !== at);
    },
    default: () => [],
  }),
});
export type AgentStateValue = typeof AgentState.State;

/**
 * Puts what was heard in place of the estimate, only where the estimate is: the trimmed reply at
 * `at`, or, if the estimate kept nothing, the gap after the caller's message where it would be.
 * Anything else there (a tool call the turn was cut in) means there is nothing to correct.
 */
function correctReply(
  left: MessageParam[],
  edit: { correctReplyAt: number; from: string; to: string },
): MessageParam[] {
  const at = edit.correctReplyAt;
  const from = edit.from.trim();
  const to = edit.to.trim();
  const there = left[at];
  if (from) {
    if (there?.role !== "assistant" || there.content !== from) return left;
    // An empty message is dropped on the way to the model (prepareForModel): indices stay.
    return left.with(at, { role: "assistant", content: to });
  }
  if (!to || left[at - 1]?.role !== "user" || (there && there.role !== "user")) return left;
  return left.toSpliced(at, 0, { role: "assistant", content: to });
}

/** What a running turn reports as it goes. */
export type AgentEvent =
  /** A request to the model is about to leave (latency is measured from here). */
  | { type: "model_request" }
  | { type: "text"; delta: string }
  /** The model call's answer is complete: every text delta of it has been emitted. */
  | { type: "model_done"; usage?: ModelUsage }
  | { type: "tool_started"; name: string }
  | { type: "tool_finished"; name: string; input: unknown; ok: boolean; activity?: string }
  | { type: "retrying"; attempt: number; delayMs: number; reason: string }
  | { type: "gave_up"; reason: string };

/** Per-turn context, passed in `configurable.turn` (never checkpointed: it holds functions). */
export interface TurnContext {
  signal: AbortSignal;
  emit(event: AgentEvent): void;
  /** The session's system prompt (system-prompt.ts), the same every turn. */
  system: string;
  tool: ToolContext;
  startedAt: number;
  /** For a spoken reply: the part the caller actually heard, kept when the turn is cut off. */
  heard?: () => string;
  /** The turn's first model call, already asked before the graph ran (startModelCall). */
  earlyCall?: EarlyModelCall;
  /** How many messages this turn adds (its input: the time note and the caller's words). */
  inputCount?: number;
  /** Set by the turn's first model call: the history's length before this turn's input. */
  historyStart?: number;
  /** Set by each model call: where its reply goes in the history (the last one counts). */
  replyAt?: number;
  /**
   * Resolves once the caller's turn is certain (at once, unless it is speculative: Flux's
   * EagerEndOfTurn) — true — or taken back — false, and the turn's signal has aborted.
   */
  certain?: Promise<boolean>;
}

export interface AgentDependencies {
  model: ChatModel;
  tools: AgentTool[];
  checkpointer: BaseCheckpointSaver;
  retry: RetryPolicy;
  /** @default 5000 */
  toolTimeoutMs?: number;
  /** @default 1024 */
  maxTokens?: number;
}

export const APOLOGY =
  "Sorry, I'm having trouble thinking right now. Could you try again in a moment?";

/** What the model is asked with `messages` (the whole history, this turn's input included). */
function requestFor(
  deps: Pick<AgentDependencies, "tools" | "maxTokens">,
  messages: MessageParam[],
  system: string,
): ModelRequest {
  return {
    system,
    messages: prepareForModel(messages),
    tools: toAnthropicTools(deps.tools),
    maxTokens: deps.maxTokens ?? 1024,
  };
}

/**
 * A turn's first model call, asked before the graph runs, and streamed to the turn as it comes:
 * the request leaves before LangGraph loads the checkpoint, merges its configs and plans its
 * first step, and the reply's text (so its first audio) reaches the caller without waiting for
 * any of it. Once the call has ended (conversation.ts), a whole answer with no tool is recorded
 * as is (recordFullAnswer); otherwise the graph runs, and its model node takes the call's events
 * as its first answer, emitting nothing again — the caller has heard them. It is asked with the
 * history the graph will load (the checkpointer's latest, kept in memory):
 * notes and corrections written outside a turn are finished before a turn reads it, and wait
 * for a running one to end (conversation.ts, which also checks that the graph found the same
 * history).
 */
export interface EarlyModelCall {
  /** The history it was asked with, this turn's input included. */
  readonly messages: readonly MessageParam[];
  /** Every event of the call from the first, once it has ended; ends with its error if it failed. */
  readonly events: AsyncIterable<ModelEvent>;
  /** Resolves once the call has ended: answered, failed or cancelled with the turn. */
  readonly settled: Promise<void>;
  /**
   * The call's whole answer, as the model node would record it, when it ended with one that asks
   * for no tool (the caller has all of it); undefined otherwise.
   */
  fullAnswer(): MessageParam["content"] | undefined;
}

export function startModelCall(
  deps: Pick<AgentDependencies, "model" | "tools" | "maxTokens">,
  messages: MessageParam[],
  turn: TurnContext,
): EarlyModelCall {
  turn.emit({ type: "model_request" });
  const stream = deps.model.stream(requestFor(deps, messages, turn.system), turn.signal);
  const seen: ModelEvent[] = [];
  let failure: { error: unknown } | undefined;
  let answer: MessageParam["content"] | undefined;
  const settled = (async () => {
    try {
      for await (const event of stream) {
        seen.push(event);
        if (event.type === "text") turn.emit(event);
        else {
          if (!asksForTools(event.content)) answer = event.content;
          turn.emit({ type: "model_done", usage: event.usage });
        }
      }
    } catch (error) {
      failure = { error };
    }
  })();
  async function* replay(): AsyncGenerator<ModelEvent> {
    await settled;
    yield* seen;
    if (failure) throw failure.error;
  }
  return {
    messages,
    events: { [Symbol.asyncIterator]: replay },
    settled,
    fullAnswer: () => (failure ? undefined : answer),
  };
}

/**
 * Records a turn whose early call answered in full, asking for no tool, as the graph's run would
 * have recorded it: the caller's input and the answer appended by the state's reducer, as written
 * by the model node, in one checkpoint. Nothing is left to run (`afterModel` ends a run with no
 * turn), so running the graph would only have replayed the answer through its loop — about three
 * times the CPU of `updateState` (docs/benchmarks.md, ninth session) — on most turns of a call.
 * Sets the turn's `historyStart` and `replyAt` as the model node does; the graph runs every other
 * turn.
 *
 * The checkpoint is the one `updateState(config, { messages }, "model")` writes (the test
 * agent-record.test.ts compares the two field by field), made here when the last checkpoint is
 * one a finished run or update leaves: every other channel empty, no pending writes. LangGraph's
 * `updateState` loads every channel, runs the node's writers and its branch, builds and catches
 * an EmptyChannelError for each empty channel, and stores the update's writes against the
 * previous checkpoint, which nothing reads (only a thread's latest is ever loaded): about half a
 * millisecond to a millisecond of a turn's JavaScript (docs/benchmarks.md, twenty-sixth
 * session). Any other checkpoint (none yet, pending writes, a channel with a value) goes through
 * `updateState`.
 */
export async function recordFullAnswer(
  graph: AgentGraph,
  checkpointer: BaseCheckpointSaver,
  threadId: string,
  input: MessageParam[],
  answer: MessageParam["content"],
  turn: TurnContext,
): Promise<void> {
  const config = { configurable: { thread_id: threadId } };
  const saved = await checkpointer.getTuple(config);
  const history = (saved?.checkpoint.channel_values.messages ?? []) as MessageParam[];
  turn.historyStart = history.length;
  turn.replyAt = history.length + input.length;
  const added: MessageParam[] = [...input, { role: "assistant" as const, content: answer }];
  if (saved && isSettled(saved)) {
    await appendAsModel(checkpointer, saved, history, added);
    return;
  }
  await graph.updateState(config, { messages: added }, "model");
}

/**
 * The format of the checkpoints this LangGraph writes (an older one is migrated as it loads).
 * Read at the first record, not at load: an empty checkpoint has a random id, and workerd allows
 * no random values in a module's global scope.
 */
let checkpointFormat: number | undefined;

/**
 * A checkpoint a finished run or update leaves: the history and nothing else (the task queue,
 * if kept, empty), no writes pending, and no delta channels' bookkeeping in its metadata.
 */
function isSettled(saved: CheckpointTuple): boolean {
  const { v, channel_values: values, channel_versions: versions } = saved.checkpoint;
  checkpointFormat ??= emptyCheckpoint().v;
  if (v !== checkpointFormat || (saved.pendingWrites?.length ?? 0) > 0) return false;
  if (Object.keys(versions).length === 0) return false;
  if (!Array.isArray(values.messages)) return false;
  for (const [name, value] of Object.entries(values)) {
    if (name === "messages") continue;
    if (name !== TASKS || !Array.isArray(value) || value.length > 0) return false;
  }
  const metadata = (saved.metadata ?? {}) as Record<string, unknown>;
  return Object.keys(metadata).every(
    (key) => key === "source" || key === "step" || key === "parents",
  );
}

/**
 * `updateState(config, { messages: added }, "model")` on a settled checkpoint: the reducer's
 * append, the messages channel at the next version after the highest, the node's record of
 * versions seen as it was (an empty one if it had none, as LangGraph makes it), and the update's
 * metadata.
 */
async function appendAsModel(
  checkpointer: BaseCheckpointSaver,
  saved: CheckpointTuple,
  history: MessageParam[],
  added: MessageParam[],
): Promise<void> {
  const previous = saved.checkpoint;
  const step = (saved.metadata?.step ?? -1) + 1;
  const version = checkpointer.getNextVersion(
    maxChannelVersion(...Object.values(previous.channel_versions)) as number,
  );
  const checkpoint: Checkpoint = {
    v: previous.v,
    id: uuid6(step),
    ts: new Date().toISOString(),
    channel_values: { ...previous.channel_values, messages: history.concat(added) },
    channel_versions: { ...previous.channel_versions, messages: version },
    versions_seen: { ...previous.versions_seen, model: previous.versions_seen.model ?? {} },
  };
  await checkpointer.put(
    saved.config,
    checkpoint,
    { source: "update", step, parents: saved.metadata?.parents ?? {} },
    { messages: version },
  );
}

function asksForTools(content: MessageParam["content"]): boolean {
  return typeof content !== "string" && content.some((block) => block.type === "tool_use");
}

/** The early call, if the turn has one not yet taken. Taken once. */
function takeEarlyCall(turn: TurnContext): AsyncIterable<ModelEvent> | undefined {
  const early = turn.earlyCall;
  turn.earlyCall = undefined;
  return early?.events;
}

export function buildAgentGraph(deps: AgentDependencies) {
  async function modelNode(state: AgentStateValue, config: LangGraphRunnableConfig) {
    const turn = turnOf(config);
    turn.historyStart ??= state.messages.length - (turn.inputCount ?? 0);
    turn.replyAt = state.messages.length;
    for (let attempt = 1; ; attempt++) {
      let said = "";
      try {
        // The early call's events were emitted as they came (startModelCall): not again.
        const early = attempt === 1 ? takeEarlyCall(turn) : undefined;
        if (!early) turn.emit({ type: "model_request" });
        const events =
          early ?? deps.model.stream(requestFor(deps, state.messages, turn.system), turn.signal);
        for await (const event of events) {
          if (event.type === "text") {
            said += event.delta;
            if (!early) turn.emit(event);
          } else {
            if (!early) turn.emit({ type: "model_done", usage: event.usage });
            return { messages: [{ role: "assistant" as const, content: event.content }] };
          }
        }
        throw new ModelError("Claude's stream ended without a message.", { retryable: true });
      } catch (error) {
        if (turn.signal.aborted) {
          // Keep what the caller already saw (or heard); drop any half-streamed tool call.
          const kept = turn.heard ? turn.heard() : said;
          return { messages: kept ? [{ role: "assistant" as const, content: kept }] : [] };
        }
        const reason = error instanceof Error ? error.message : "model call failed";
        const delay =
          error instanceof ModelError && error.retryable && said === ""
            ? nextRetryDelay(
                attempt,
                Date.now() - turn.startedAt,
                deps.retry,
                error.retryAfterSeconds,
              )
            : undefined;
        if (delay === undefined) {
          turn.emit({ type: "gave_up", reason });
          const text = said ? `${said} … ${APOLOGY}` : APOLOGY;
          if (!said) turn.emit({ type: "text", delta: APOLOGY });
          else turn.emit({ type: "text", delta: ` … ${APOLOGY}` });
          return { messages: [{ role: "assistant" as const, content: text }] };
        }
        turn.emit({ type: "retrying", attempt, delayMs: delay, reason });
        await sleep(delay, turn.signal);
      }
    }
  }

  async function toolsNode(state: AgentStateValue, config: LangGraphRunnableConfig) {
    const turn = turnOf(config);
    const last = state.messages.at(-1);
    const calls =
      last?.role === "assistant" && typeof last.content !== "string"
        ? last.content.flatMap((b) => (b.type === "tool_use" ? [b] : []))
        : [];
    // A speculative turn asks the model before the caller's turn is certain, but acts only once
    // it is: a tool may change their data, start a transfer or end the call, and a turn taken
    // back (which aborts it) must leave nothing behind.
    await turn.certain;
    const results = [];
    for (const call of calls) {
      if (turn.signal.aborted) {
        results.push({
          type: "tool_result" as const,
          tool_use_id: call.id,
          content: CANCELLED_TOOL_RESULT,
          is_error: true,
        });
        continue;
      }
      turn.emit({ type: "tool_started", name: call.name });
      const result = await runTool(call.name, call.input, turn.tool, {
        timeoutMs: deps.toolTimeoutMs ?? 5_000,
      });
      turn.emit({
        type: "tool_finished",
        name: call.name,
        input: call.input,
        ok: result.ok,
        ...(result.ok && result.activity ? { activity: result.activity } : {}),
      });
      results.push({
        type: "tool_result" as const,
        tool_use_id: call.id,
        content: result.ok ? result.content : result.error,
        ...(result.ok ? {} : { is_error: true }),
      });
    }
    return { messages: [{ role: "user" as const, content: results }] };
  }

  function afterModel(state: AgentStateValue, config: LangGraphRunnableConfig) {
    // No turn: a history edit from outside a turn (`updateState` as the model), nothing to run.
    const turn = config.configurable?.turn as TurnContext | undefined;
    if (!turn || turn.signal.aborted) return END;
    const last = state.messages.at(-1);
    return last?.role === "assistant" && asksForTools(last.content) ? "tools" : END;
  }

  function afterTools(_state: AgentStateValue, config: LangGraphRunnableConfig) {
    return turnOf(config).signal.aborted ? END : "model";
  }

  return new StateGraph(AgentState)
    .addNode("model", modelNode)
    .addNode("tools", toolsNode)
    .addEdge(START, "model")
    .addConditionalEdges("model", afterModel, ["tools", END])
    .addConditionalEdges("tools", afterTools, ["model", END])
    .compile({ checkpointer: deps.checkpointer });
}

export type AgentGraph = ReturnType<typeof buildAgentGraph>;

function turnOf(config: LangGraphRunnableConfig): TurnContext {
  const turn = config.configurable?.turn as TurnContext | undefined;
  if (!turn) throw new Error("The agent graph runs only with a turn in configurable.turn.");
  return turn;
}
