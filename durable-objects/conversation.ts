/**
 * One session's conversation with the agent: runs a turn per caller message through the
 * LangGraph agent, streams its events to the caller, cancels a running turn when a newer
 * message arrives, and records both sides in the transcript (the object's storage for the
 * page, Postgres for the record).
 */

import { DurableObjectSqliteSaver } from "../agent/checkpointer.ts";
import {
  type AgentDependencies,
  type AgentEvent,
  type AgentGraph,
  buildAgentGraph,
  type EarlyModelCall,
  type MessagesEdit,
  recordFullAnswer,
  startModelCall,
  type TurnContext,
} from "../agent/graph.ts";
import { createAnthropicModel } from "../agent/llm/anthropic.ts";
import { DEFAULT_RETRY_POLICY } from "../agent/llm/retry.ts";
import type { MessageParam } from "../agent/llm/types.ts";
import { buildSystemPrompt, timeNote } from "../agent/system-prompt.ts";
import { TOOLS } from "../agent/tools/index.ts";
import type { TransferAnswer } from "../agent/tools/types.ts";
import type {
  ServerMessage,
  ToolLine,
  TranscriptEntry,
  VoiceFigures,
} from "../protocol/messages.ts";
import { HeldOutput } from "../voice/held-output.ts";
import { config } from "../worker/config.ts";
import type { Database } from "../worker/db/client.ts";
import {
  addTranscriptTurnMetrics,
  recordTranscriptTurns,
  reviseTranscriptTurnText,
  type TranscriptTurn,
} from "../worker/db/transcripts.ts";
import { log } from "../worker/log.ts";
import { AFTER_SEND_MS, afterOtherRepliesStarted } from "./first-audio-priority.ts";
import type { SessionRecord, SessionStore } from "./session-store.ts";
import { MAX_HOLD_MS, type StorageWrites } from "./write-behind.ts";

export interface ConversationDeps {
  env: Env;
  sql: SqlStorage;
  /** How the object's storage writes are made (held while a voice reply starts). */
  writes?: StorageWrites;
  store: SessionStore;
  db: () => Database;
  send: (message: ServerMessage) => void;
  /** Runs work that nobody waits for: logged on failure, never a floating promise. */
  background: (label: string, work: () => Promise<unknown>) => void;
  /** The session's transfer to a person (the tool only asks; the session owns it). */
  requestTransfer: (department: string, reason: string) => Promise<TransferAnswer>;
  /**
   * Ends the call: a turn whose model called `end_call` has ended and its goodbye was heard (not
   * cut off). Called with no turn running.
   */
  endCall?: () => Promise<void>;
}

/** Where a spoken turn's reply goes (durable-objects/voice-turn.ts). */
export interface SpeechSink {
  /** The voice turn's id (`v3`), as barge-in and playback reports name it. */
  readonly id: string;
  /** Until committed, everything the turn sends or stores waits here (Flux speculation). */
  readonly output: HeldOutput;
  modelRequested(): void;
  /** Runs `work` once the reply's first audio has left (at once if it has); never if none does. */
  afterFirstAudio(work: () => void): void;
  /** The model is retried; the caller will have waited `waitMs` by then (said aloud if long). */
  modelRetrying(waitMs: number): void;
  /** A tool started / finished: a slow one is announced aloud ("One moment…"). */
  toolStarted?(): void;
  toolFinished?(): void;
  write(delta: string): void;
  /** The model's message has ended: what it wrote so far is whole (speech-output.ts). */
  textEnded(): void;
  end(): Promise<void>;
  stop(): void;
  /** Sentences sent in full so far: what the caller has surely heard. */
  readonly spoken: string[];
  /** What the caller heard of the reply: as the page reported it, or by the clock. Never waits. */
  heardNow(): string;
  /**
   * What the caller heard, once the page reports it after a barge-in (heardNow() may have had
   * only the clock's estimate); undefined when no report is due or none came.
   */
  heardReported(): Promise<string | undefined>;
  /** The turn's voice latency figures, stored with its transcript row. */
  metrics(): VoiceFigures;
  /** Called with figures that become known after the row was written. */
  onLaterMetrics(record: (metrics: Record<string, number>) => void): void;
}

interface RunningTurn {
  id: string;
  controller: AbortController;
  /** True when the turn asked to end the call and its goodbye was heard in full. */
  done: Promise<boolean>;
}

/** The reply's text reaches the page at most this often while tokens stream (see #runTurn). */
const TEXT_EVERY_MS = 50;

/** Said when the model ends the call without a goodbye of its own. */
export const FAREWELL = "Goodbye — talk to you soon.";

/** Shown once per turn when Claude has to be asked again. */
export const RETRYING_NOTICE = "The assistant is busy right now — trying again…";

export const AGENT_NOT_CONFIGURED =
  "The assistant is not set up on this server: no Anthropic API key is configured. Set ANTHROPIC_API_KEY in .dev.vars (see .dev.vars.example) and restart.";

/** Work that waits for its moment, or until something must come after it. */
interface Deferred {
  /** Runs it now, if it has not run yet. */
  now(): void;
}

/** A transcript row written once: taken into another write, or left to be written alone. */
interface PendingRow {
  /** The row, the first time only. */
  take(): TranscriptTurn[];
}

function pendingRow(row: TranscriptTurn): PendingRow {
  let pending: TranscriptTurn[] = [row];
  return {
    take() {
      const rows = pending;
      pending = [];
      return rows;
    },
  };
}

function deferred(work: () => void): Deferred {
  let pending: (() => void) | undefined = work;
  return {
    now() {
      const run = pending;
      pending = undefined;
      run?.();
    },
  };
}

/**
 * Defers showing the caller's words (to the page, in the object's transcript) until the model
 * request is on the wire: everything between here and the `fetch` is promise continuations —
 * the history comes from memory, the request is built synchronously — and the fetch's write
 * after them takes a few steps of the event loop more, which a zero timer could run ahead of
 * (first-audio-priority.ts, AFTER_SEND_MS). `now()` runs it earlier when the turn sends
 * something that must follow it, or ends.
 */
function afterModelRequest(work: () => void): Deferred {
  const later = deferred(work);
  setTimeout(later.now, AFTER_SEND_MS);
  return later;
}

export class Conversation {
  readonly #deps: ConversationDeps;
  /** The graph, and what it was built with: a turn's first model call is asked before it runs. */
  readonly #agent: { graph: AgentGraph; deps: AgentDependencies } | undefined;
  #running: RunningTurn | undefined;
  /** Caller messages not yet given to a turn. */
  readonly #pending: TranscriptEntry[] = [];
  /** Corrections of cut-off replies, applied to the history with no turn running. */
  readonly #corrections: MessagesEdit[] = [];
  /**
   * The history written outside a turn (notes, corrections), one write after another: a turn
   * reads the history only after them, so its first model call and its graph see the same one.
   */
  #historyWrites: Promise<void> = Promise.resolve();

  constructor(deps: ConversationDeps) {
    this.#deps = deps;
    const agent = config(deps.env).agent;
    if (agent) {
      const agentDeps: AgentDependencies = {
        model: createAnthropicModel({
          apiKey: agent.apiKey,
          model: agent.model,
          baseURL: agent.baseUrl,
          idleTimeoutMs: agent.modelIdleTimeoutMs,
        }),
        tools: TOOLS,
        checkpointer: new DurableObjectSqliteSaver(deps.sql, deps.writes),
        retry: { ...DEFAULT_RETRY_POLICY, baseDelayMs: agent.retryBaseDelayMs },
        toolTimeoutMs: agent.toolTimeoutMs,
      };
      this.#agent = { graph: buildAgentGraph(agentDeps), deps: agentDeps };
    }
  }

  get configured(): boolean {
    return this.#agent !== undefined;
  }

  /** A turn is running (thinking, or its reply still being heard). */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** Cancels the running turn, if any, and waits until it has settled. */
  async cancel() {
    const running = this.#running;
    if (!running) return;
    running.controller.abort();
    await running.done;
  }

  /**
   * Answers a caller message. A turn still running is cancelled first; messages that arrive
   * while one is being cancelled are answered together in the next turn (the newest wins, and
   * no words are dropped from the conversation). Only one turn ever runs at a time.
   */
  async handleUserText(
    session: SessionRecord,
    entry: TranscriptEntry,
    speech?: SpeechSink,
    /** The caller's own record of their words (the page, the object's transcript). */
    record?: () => void,
  ) {
    const seq = this.#deps.store.nextTurnSeq(1);
    const output = speech?.output ?? HeldOutput.committed();
    const shown = afterModelRequest(() => record?.());
    // The row in Postgres waits longer: it is written with the reply's row when the turn ends
    // (#runTurn), one query for the two, off the way to the first audio. A message that gets no
    // turn of its own has its row written alone.
    const userRow = pendingRow({
      sessionId: session.sessionId,
      seq,
      role: "user",
      text: entry.text,
    });
    const storeAlone = () => {
      const rows = userRow.take();
      if (rows.length > 0) output.run(() => this.#persist(rows));
    };
    const graph = this.#agent?.graph;
    if (!graph) {
      shown.now();
      storeAlone();
      this.#deps.send({
        type: "notice",
        level: "warning",
        code: "agent_not_configured",
        text: AGENT_NOT_CONFIGURED,
      });
      return;
    }
    this.#pending.push(entry);
    // Stop whatever runs, unless another message's turn has already taken this one along.
    while (this.#running && this.#pending.includes(entry)) {
      const running = this.#running;
      running.controller.abort();
      await running.done;
      if (this.#running === running) this.#running = undefined;
    }
    if (!this.#pending.includes(entry)) {
      shown.now();
      storeAlone();
      return;
    }
    const texts = this.#pending.splice(0).map((e) => e.text);
    const turnId = `t${seq}`;
    // A synchronous write of a few bytes, not the history: what survives a restart mid-turn.
    this.#deps.store.turnInFlight = { turnId, texts, at: Date.now() };
    const controller = new AbortController();
    // A speculative turn taken back (the caller went on speaking, or left) is over, however it
    // was taken back: its tools are refused and it asks the model no more.
    void output.decided.then((kept) => {
      if (!kept) controller.abort();
    });
    const done = this.#runTurn(graph, session, texts, turnId, controller.signal, speech, {
      shown,
      userRow,
    });
    const running: RunningTurn = { id: turnId, controller, done };
    this.#running = running;
    let endCall = false;
    try {
      endCall = await done;
    } finally {
      // A turn that ended with no reply to write (taken back, or failed) leaves the row alone.
      storeAlone();
      // A newer turn may already be the running one: only clear our own.
      if (this.#running === running) this.#running = undefined;
      if (this.#deps.store.turnInFlight?.turnId === turnId)
        this.#deps.store.turnInFlight = undefined;
    }
    // After the turn has settled: ending the session cancels turns, and this one must be over.
    if (endCall && this.#deps.endCall) await this.#deps.endCall();
  }

  async #runTurn(
    graph: AgentGraph,
    session: SessionRecord,
    texts: string[],
    turnId: string,
    signal: AbortSignal,
    speech: SpeechSink | undefined,
    bookkeeping: { shown: Deferred; userRow: PendingRow },
  ): Promise<boolean> {
    const output = speech?.output ?? HeldOutput.committed();
    // A turn cancelled while still speculative is taken back, not kept waiting.
    signal.addEventListener(
      "abort",
      () => {
        speech?.stop();
        output.cancel();
      },
      { once: true },
    );
    // The page sees the caller's words before anything of the reply.
    const sendNow = (message: ServerMessage) => {
      bookkeeping.shown.now();
      output.run(() => this.#deps.send(message));
    };
    // The reply's text goes to the page at once when it starts, then at most every
    // TEXT_EVERY_MS while tokens come, and whenever anything else happens (a tool, the model's
    // answer complete, the turn's end) — not one message per token. No timer: the clock is read
    // as tokens arrive (a timer per message cost more in workerd than the messages saved).
    let unsentText = "";
    let textSentAt = 0;
    const flushText = () => {
      if (!unsentText) return;
      const delta = unsentText;
      unsentText = "";
      textSentAt = Date.now();
      sendNow({ type: "assistant_delta", turnId, delta });
    };
    const send = (message: ServerMessage) => {
      flushText();
      sendNow(message);
    };
    const turnLog = log.with({ session: session.sessionId, turn: turnId });
    const startedAt = Date.now();
    let firstTextAt: number | undefined;
    let retryNoticeSent = false;
    let text = "";
    /** A later model call's text starts a new block: it must not run on from the last one. */
    let newBlock = false;
    const toolCalls: { name: string; input: unknown; ok: boolean }[] = [];
    const tools: ToolLine[] = [];
    /** Claude's input tokens over the turn's calls: whether its prompt cache is doing its work. */
    const usage = { inputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
    let toolStartedAt = startedAt;
    const emit = (event: AgentEvent) => {
      if (signal.aborted && event.type === "text") return;
      if (event.type !== "text") flushText();
      switch (event.type) {
        case "model_done":
          if (event.usage) {
            usage.inputTokens += event.usage.inputTokens;
            usage.cacheReadTokens += event.usage.cacheReadInputTokens;
            usage.cacheWriteTokens += event.usage.cacheCreationInputTokens;
          }
          return speech?.textEnded();
        case "model_request":
          newBlock = text !== "";
          return speech?.modelRequested();
        case "text": {
          firstTextAt ??= Date.now();
          // "Let me check." + tool + "Done." reads "Let me check. Done.", here and in Postgres.
          const delta =
            newBlock && !/\s$/.test(text) && !/^\s/.test(event.delta)
              ? ` ${event.delta}`
              : event.delta;
          newBlock = false;
          text += delta;
          speech?.write(delta);
          unsentText += delta;
          if (Date.now() - textSentAt >= TEXT_EVERY_MS) flushText();
          return;
        }
        case "tool_started":
          toolStartedAt = Date.now();
          speech?.toolStarted?.();
          return send({ type: "tool_activity", turnId, tool: event.name, status: "started" });
        case "tool_finished":
          speech?.toolFinished?.();
          (event.ok ? turnLog.info : turnLog.warn)("agent", "tool_call", {
            tool: event.name,
            ok: event.ok,
            ms: Date.now() - toolStartedAt,
          });
          toolCalls.push({ name: event.name, input: event.input, ok: event.ok });
          tools.push({
            tool: event.name,
            ok: event.ok,
            ...(event.activity ? { text: event.activity } : {}),
          });
          return send({
            type: "tool_activity",
            turnId,
            tool: event.name,
            status: event.ok ? "done" : "failed",
            ...(event.activity ? { text: event.activity } : {}),
          });
        case "retrying":
          turnLog.warn("conversation", "provider_retry", {
            provider: "anthropic",
            attempt: event.attempt,
            delayMs: event.delayMs,
            reason: event.reason,
          });
          speech?.modelRetrying(Date.now() - startedAt + event.delayMs);
          if (retryNoticeSent) return;
          retryNoticeSent = true;
          return send({ type: "notice", level: "info", code: "retrying", text: RETRYING_NOTICE });
        case "gave_up":
          turnLog.error("conversation", "provider_error", {
            provider: "anthropic",
            reason: event.reason,
            gaveUp: true,
          });
          return;
      }
    };
    const config = { configurable: { thread_id: session.sessionId } };
    let endRequested = false;
    const endCall = this.#deps.endCall;
    // The turn's input, kept in the history as sent: the time it is, then the caller's words.
    const input = [
      { role: "user" as const, content: timeNote(session.user, new Date(startedAt)) },
      ...texts.map((text) => ({ role: "user" as const, content: text })),
    ];
    const turn: TurnContext = {
      signal,
      emit,
      // A spoken reply cut off mid-stream keeps the sentences sent in full; trimmed below.
      ...(speech ? { heard: () => speech.spoken.join(" ") } : {}),
      startedAt,
      // A spoken turn may be trimmed to what was heard, or undone: the model node notes where
      // in the history it starts.
      inputCount: input.length,
      certain: output.decided,
      system: buildSystemPrompt(session.user),
      tool: {
        db: this.#deps.db(),
        user: { id: session.user.id, name: session.user.name, timezone: session.user.timezone },
        sessionId: session.sessionId,
        now: new Date(startedAt),
        signal,
        requestTransfer: (request) =>
          this.#deps.requestTransfer(request.department, request.reason),
        ...(endCall
          ? {
              endCall: async () => {
                endRequested = true;
                return { ok: true as const };
              },
            }
          : {}),
      },
    };
    // Usually none: a report that came between turns is applied as it comes.
    if (this.#corrections.length > 0) void this.#applyCorrections(graph, session.sessionId);
    await this.#historyWrites;
    let early: EarlyModelCall | undefined;
    let releaseWrites: () => void = () => undefined;
    try {
      early = await this.#startModelCall(config, input, turn);
      turn.earlyCall = early;
      // The reply streams to the caller from the early call itself, so LangGraph's run (loading
      // the checkpoint, planning its steps, taking the call's answer) is not needed before the
      // call has ended: the turn is recorded once the call has ended, and not before the reply's
      // first audio has left or the call has ended, whichever is first, and no other call of the
      // isolate still waits for its first audio (first-audio-priority.ts) — never sooner than
      // AFTER_SEND_MS later: a socket write is still under way when the task that made it ends,
      // and with a whole answer in one read the first TTS request was made in the very task that
      // ended the call. Started sooner, its setup ran between this turn's first token and its
      // first audio, and with many calls on one isolate between every other turn's.
      if (early) {
        const { settled } = early;
        await new Promise<void>((resolve) => {
          speech?.afterFirstAudio(resolve);
          void settled.then(resolve);
        });
        // The turn's held storage writes (write-behind.ts) wait for its record too: taken before
        // the voice turn's own hold is let go (on the same wait, below), so they and LangGraph's
        // checkpoint go in one commit, not two a few ms apart.
        releaseWrites = this.#deps.writes?.hold(MAX_HOLD_MS) ?? releaseWrites;
        await afterOtherRepliesStarted(session.sessionId, signal);
        await settled;
      }
      // Most turns are one whole answer with no tool: recorded as the graph would record it,
      // without running it (graph.ts recordFullAnswer). Any other turn runs the graph.
      const answer = early?.fullAnswer();
      if (answer !== undefined && this.#agent) {
        await recordFullAnswer(
          graph,
          this.#agent.deps.checkpointer,
          session.sessionId,
          input,
          answer,
          turn,
        );
        releaseWrites();
      } else {
        // The graph may run tools for a while: the writes are not held for it.
        releaseWrites();
        await graph.invoke(
          { messages: input },
          {
            configurable: { ...config.configurable, turn },
            recursionLimit: 16,
            // One checkpoint when the turn ends, not one per step: serialising the history before
            // the model call sat on the critical path. A turn cut short by eviction is lost either way.
            durability: "exit",
          },
        );
      }
      if (early && turn.historyStart !== early.messages.length - input.length) {
        turnLog.warn("conversation", "history_changed_under_turn", {
          asked: early.messages.length - input.length,
          found: turn.historyStart ?? null,
        });
      }
    } catch (error) {
      releaseWrites();
      turnLog.error("conversation", "turn_failed", error);
      // The early call goes on to its end whatever the graph did: a whole answer, said, needs no
      // apology after it (its exchange is missing from the history: the graph that would have
      // recorded it failed).
      await early?.settled;
      if (!signal.aborted && early?.fullAnswer() === undefined) {
        const apology = "Sorry, something went wrong on my side. Could you say that again?";
        text += text ? ` … ${apology}` : apology;
        send({ type: "assistant_delta", turnId, delta: apology });
        speech?.write(apology);
      }
    }
    bookkeeping.shown.now();
    // Ending the call without a word would leave the caller wondering: a goodbye is always said.
    if (endRequested && !signal.aborted && !text.trim()) {
      text = FAREWELL;
      send({ type: "assistant_delta", turnId, delta: FAREWELL });
      speech?.write(FAREWELL);
    }
    // A spoken turn lasts until its reply has been heard (one turn at a time holds for audio
    // too), and the caller may speak over it until then. A speculative reply is synthesised in
    // full, then waits for the caller's turn to be certain (or taken back); let out, it is heard.
    if (speech && !signal.aborted) {
      await speech.end();
      if (output.held && (await output.decided)) await speech.end();
    }
    const interrupted = signal.aborted;
    if (output.cancelled) {
      // A speculative turn the caller went on speaking over: as if it never ran.
      await this.#editHistory(
        graph,
        { ...config.configurable, turn },
        { rollbackTo: turn.historyStart ?? Number.POSITIVE_INFINITY },
      );
      return false;
    }
    // A spoken reply cut off keeps, in the transcript and the model's history, what was heard.
    // The caller is already saying something new: the clock's estimate now, and the page's
    // report corrects the record when it comes (#correctWhenReported).
    if (speech && interrupted) text = speech.heardNow();
    const metrics = {
      firstTextMs: firstTextAt === undefined ? null : firstTextAt - startedAt,
      totalMs: Date.now() - startedAt,
    };
    // The tool lines and figures travel with the reply, so a resumed page shows them again.
    const voiceMetrics = speech?.metrics();
    // The turn's one log line, with every figure known now (the page's playback comes later).
    turnLog.info("conversation", "turn", {
      input: speech ? "spoken" : "typed",
      ...(speech ? { voiceTurn: speech.id } : {}),
      messages: texts.length,
      ...metrics,
      interrupted,
      tools: toolCalls.length,
      failedTools: toolCalls.filter((call) => !call.ok).length,
      replyChars: text.length,
      ...usage,
      ...voiceMetrics,
    });
    const reply: TranscriptEntry = {
      id: turnId,
      role: "assistant",
      text,
      at: Date.now(),
      ...(tools.length > 0 ? { tools } : {}),
      details: { ...metrics, interrupted, ...(voiceMetrics ? { voice: voiceMetrics } : {}) },
    };
    output.run(() => {
      if (text || tools.length > 0) this.#deps.store.appendTranscript(reply);
    });
    send({ type: "assistant_done", turnId, entry: reply, interrupted, metrics });
    const seq = this.#deps.store.nextTurnSeq(1);
    let written: Promise<void> = Promise.resolve();
    output.run(() => {
      written = this.#persist([
        ...bookkeeping.userRow.take(),
        {
          sessionId: session.sessionId,
          seq,
          role: "assistant",
          text,
          toolCalls,
          metrics: { ...metrics, interrupted, ...voiceMetrics },
        },
      ]);
      // Figures the page reports later (first audio played) are added to the same row.
      speech?.onLaterMetrics((later) =>
        this.#deps.background(`transcript ${seq} metrics`, async () => {
          await written;
          await addTranscriptTurnMetrics(this.#deps.db(), session.sessionId, seq, later);
        }),
      );
    });
    if (speech && interrupted) {
      await this.#editHistory(
        graph,
        { ...config.configurable, turn },
        { truncateReplyFrom: turn.historyStart ?? Number.POSITIVE_INFINITY, heard: text },
      );
      this.#correctWhenReported(graph, session.sessionId, speech, {
        turnId,
        seq,
        replyAt: turn.replyAt,
        estimate: text,
        written,
      });
    }
    // Reports that came during this turn: applied before the next one reads the history.
    if (this.#corrections.length > 0) await this.#applyCorrections(graph, session.sessionId);
    // Cut off during the goodbye ("wait, one more thing"): the call goes on.
    return endRequested && !interrupted;
  }

  /**
   * Adds to the model's history something that happened outside a turn (a transfer's outcome),
   * and what the assistant said about it. Call with no turn running: a running turn writes its
   * own checkpoint when it ends and would drop this.
   */
  async addNote(session: SessionRecord, note: string, said: string) {
    const graph = this.#agent?.graph;
    if (!graph) return;
    const messages = [
      { role: "user" as const, content: note },
      ...(said ? [{ role: "assistant" as const, content: said }] : []),
    ];
    await this.#writeHistory(() =>
      graph
        .updateState({ configurable: { thread_id: session.sessionId } }, { messages }, "model")
        .then(
          () => undefined,
          (error: unknown) =>
            log.warn("conversation", "history_note_failed", { session: session.sessionId, error }),
        ),
    );
  }

  /**
   * When the page reports what it played of a reply cut off with the clock's estimate, puts
   * what was really heard in the transcript (the page's copy and the row) and in the model's
   * history — at once if no turn runs, else when the running one ends (a turn writes the whole
   * history when it ends, and would drop an edit made meanwhile).
   */
  #correctWhenReported(
    graph: AgentGraph,
    sessionId: string,
    speech: SpeechSink,
    reply: {
      turnId: string;
      seq: number;
      replyAt?: number;
      estimate: string;
      written: Promise<void>;
    },
  ) {
    this.#deps.background(`heard report ${reply.turnId}`, async () => {
      const heard = await speech.heardReported();
      if (heard === undefined || heard.trim() === reply.estimate.trim()) return;
      if (reply.replyAt !== undefined) {
        this.#corrections.push({ correctReplyAt: reply.replyAt, from: reply.estimate, to: heard });
        if (!this.#running) await this.#applyCorrections(graph, sessionId);
      }
      this.#deps.store.reviseTranscript(reply.turnId, heard);
      this.#deps.send({ type: "transcript_revised", turnId: reply.turnId, text: heard });
      await reply.written;
      await reviseTranscriptTurnText(this.#deps.db(), sessionId, reply.seq, heard);
    });
  }

  /** Writes the queued corrections, after any history write before them. */
  #applyCorrections(graph: AgentGraph, sessionId: string): Promise<void> {
    return this.#writeHistory(async () => {
      for (const edit of this.#corrections.splice(0)) {
        await graph
          .updateState({ configurable: { thread_id: sessionId } }, { messages: edit }, "model")
          .catch((error: unknown) =>
            log.warn("conversation", "history_edit_failed", { session: sessionId, error }),
          );
      }
    });
  }

  /** Runs `write` after the history writes queued before it; never rejects. */
  #writeHistory(write: () => Promise<void>): Promise<void> {
    const done = this.#historyWrites
      .then(write)
      .catch((error: unknown) => log.warn("conversation", "history_write_failed", { error }));
    this.#historyWrites = done;
    return done;
  }

  async #editHistory(
    graph: AgentGraph,
    configurable: { thread_id: string; turn: TurnContext },
    edit: MessagesEdit,
  ) {
    await graph
      .updateState({ configurable }, { messages: edit }, "model")
      .catch((error: unknown) =>
        log.warn("conversation", "history_edit_failed", { session: configurable.thread_id, error }),
      );
  }

  /**
   * Asks the turn's first model call before the graph runs (graph.ts startModelCall), with the
   * history as the graph will load it: the checkpointer's latest, kept in memory. None when the
   * checkpoint still has writes to apply (the graph's history would not be that one).
   */
  async #startModelCall(
    config: { configurable: { thread_id: string } },
    input: MessageParam[],
    turn: TurnContext,
  ): Promise<EarlyModelCall | undefined> {
    if (!this.#agent) return undefined;
    const saved = await this.#agent.deps.checkpointer.getTuple(config);
    if (saved?.pendingWrites?.length) return undefined;
    const history = (saved?.checkpoint.channel_values.messages ?? []) as MessageParam[];
    return startModelCall(this.#agent.deps, [...history, ...input], turn);
  }

  /** Transcript rows are written in the background; a failure is logged, never shown. */
  #persist(rows: TranscriptTurn[]): Promise<void> {
    // Retried, or its loss logged, inside: it resolves either way, and the call goes on.
    const written = recordTranscriptTurns(this.#deps.db(), rows).then(() => undefined);
    this.#deps.background(`transcript ${rows.map((row) => row.seq).join("+")}`, () => written);
    return written;
  }
}
