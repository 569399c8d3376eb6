import { DurableObject } from "cloudflare:workers";
import { AudioFrameKind, decodeAudioFrame } from "../protocol/audio-frame.ts";
import {
  type ClientMessage,
  PROTOCOL_VERSION,
  parseClientMessage,
  type ServerMessageOf,
  type TranscriptEntry,
} from "../protocol/messages.ts";
import { type CallStatus, isActive, type Transfer } from "../transfer/state.ts";
import { backWithAssistant, noteForAssistant } from "../transfer/words.ts";
import { type Config, config } from "../worker/config.ts";
import { createDatabase, type Database } from "../worker/db/client.ts";
import { type DueToday, dueToday } from "../worker/db/today.ts";
import { recordTranscriptTurns } from "../worker/db/transcripts.ts";
import { recordCallSessionEnd } from "../worker/db/users.ts";
import {
  CLIENT_IP_HEADER,
  SESSION_MODE_HEADER,
  SOCKET_ROLE_HEADER,
} from "../worker/internal-headers.ts";
import { type Logger, log } from "../worker/log.ts";
import { AGENT_NOT_CONFIGURED, Conversation } from "./conversation.ts";
import { Deadlines } from "./deadlines.ts";
import { greetingText } from "./greeting.ts";
import { PinSignIn } from "./pin-sign-in.ts";
import { type CallerAttachment, CLOSE_CODES, SessionSockets } from "./session-sockets.ts";
import {
  digestsEqual,
  hashResumeToken,
  newResumeToken,
  type SessionRecord,
  SessionStore,
} from "./session-store.ts";
import { SilenceWatch } from "./silence-watch.ts";
import { TransferSession } from "./transfer-session.ts";
import { VoiceSession } from "./voice-session.ts";
import { MAX_HOLD_MS, WriteBehind } from "./write-behind.ts";

/**
 * While connected, how often the session notes that its caller is still there (a quarter of the
 * resume window at most, so a session lost under open sockets ends close to its window).
 */
const SESSION_HEARTBEAT_MS = 60_000;

/** The greeting does not wait longer than this for what is due today: it goes without. */
const DUE_TODAY_TIMEOUT_MS = 1_500;

/** Said after a silence (silence-watch.ts). */
export const SILENCE_CHECK_IN = "Are you still there? Take your time — I'm here when you need me.";
export const SILENCE_GOODBYE =
  "I haven't heard from you for a while, so I'll end the call here. Goodbye!";

/**
 * One caller's session: sign-in, resume, the voice and agent pipeline, and the transfer to a
 * person. It only orchestrates — protocol parsing, storage, the database, voice and the
 * transfer live in their own modules. It uses the WebSocket Hibernation API, so an idle caller
 * costs nothing; everything that must outlive an eviction is in storage or a socket's attachment.
 * Its sockets have roles: the caller's page, and Twilio's media stream during a transfer.
 */
export class CallSession extends DurableObject<Env> {
  readonly #config: Config;
  readonly #store: SessionStore;
  /** The object's storage writes, held while a voice turn's reply starts (write-behind.ts). */
  readonly #writes: WriteBehind;
  readonly #sockets: SessionSockets;
  readonly #deadlines: Deadlines;
  /** Every line this object logs carries its session id (the object's id). */
  readonly #log: Logger;
  #transferInstance: TransferSession | undefined;
  readonly #pinSignIn: PinSignIn;
  #conversationInstance: Conversation | undefined;
  #voiceInstance: VoiceSession | undefined;
  #databaseInstance: Database | undefined;
  #silenceInstance: SilenceWatch | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = config(env);
    this.#log = log.with({ session: ctx.id.toString() });
    this.#writes = new WriteBehind((error) =>
      this.#log.error("call-session", "held_write_failed", { error }),
    );
    this.#store = new SessionStore(ctx.storage.kv, this.#writes);
    this.#sockets = new SessionSockets(ctx);
    // Not held: an alarm taken by `alarm()` and not set again before a restart is gone for good.
    this.#deadlines = new Deadlines(ctx.storage);
    this.#pinSignIn = new PinSignIn({
      env,
      config: this.#config,
      sessionId: ctx.id.toString(),
      store: this.#store,
      sockets: this.#sockets,
      log: this.#log,
      db: () => this.#database,
      background: (label, work) => this.#runBackground(label, work),
      admit: (ws, record, token) => this.#admit(ws, record, token, false),
    });
  }

  get #transfer(): TransferSession {
    this.#transferInstance ??= new TransferSession({
      config: this.#config,
      sessionId: this.ctx.id.toString(),
      storage: this.ctx.storage,
      store: this.#store,
      deadlines: this.#deadlines,
      sockets: this.#sockets,
      db: () => this.#database,
      onConnected: () => this.#onTransferConnected(),
      onFinished: (transfer) => this.#onTransferFinished(transfer),
      background: (label, work) => this.#runBackground(label, work),
    });
    return this.#transferInstance;
  }

  /** One per object: building drizzle's relational schema costs a millisecond or two each time. */
  get #database(): Database {
    this.#databaseInstance ??= createDatabase(this.env);
    return this.#databaseInstance;
  }

  /** Built on first use: a woken object that only answers a ping never compiles the graph. */
  get #conversation(): Conversation {
    this.#conversationInstance ??= new Conversation({
      env: this.env,
      sql: this.ctx.storage.sql,
      writes: this.#writes,
      store: this.#store,
      db: () => this.#database,
      send: (message) => this.#sockets.broadcast(message),
      background: (label, work) => this.#runBackground(label, work),
      requestTransfer: (department, reason) => this.#transfer.request(department, reason),
      endCall: () => this.#endSession("hang_up", "goodbye"),
    });
    return this.#conversationInstance;
  }

  /** The caller's silence in a voice call: none without voice (a typed chat is not rushed). */
  get #silence(): SilenceWatch | undefined {
    const voice = this.#config.voice;
    if (!voice) return undefined;
    this.#silenceInstance ??= new SilenceWatch({
      deadlines: this.#deadlines,
      kv: this.ctx.storage.kv,
      writes: this.#writes,
      settings: { checkInMs: voice.silenceCheckInMs, goodbyeMs: voice.silenceGoodbyeMs },
    });
    return this.#silenceInstance;
  }

  /** Something was said or heard: the caller's silence, if any, starts again. */
  #activity() {
    const silence = this.#silence;
    if (silence?.watching) this.#runBackground("silence activity", () => silence.activity());
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade.", { status: 426 });
    }
    const pair = new WebSocketPair();
    const server = pair[1];
    if (request.headers.get(SOCKET_ROLE_HEADER) === "media") {
      // Twilio's media stream: accepted only once its `start` carries this transfer's token.
      this.#sockets.accept(server, { role: "media", transferId: null, streamSid: null });
      return new Response(null, { status: 101, webSocket: pair[0] });
    }
    const expect = request.headers.get(SESSION_MODE_HEADER) === "resume" ? "resume" : "sign_in";
    this.#sockets.accept(server, {
      role: "caller",
      signedIn: false,
      clientIp: request.headers.get(CLIENT_IP_HEADER) ?? "unknown",
      expect,
      audioNoticeSent: false,
    });
    this.#sockets.send(server, { type: "hello", protocol: PROTOCOL_VERSION, expect });
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer) {
    try {
      const caller = this.#sockets.caller(ws);
      if (!caller) return await this.#transfer.mediaMessage(ws, data);
      if (typeof data !== "string") return this.#onBinary(ws, caller, data);
      const parsed = parseClientMessage(data);
      if (!parsed.ok) return this.#sockets.error(ws, parsed.code, parsed.message);
      await this.#dispatch(ws, parsed.message);
    } catch (error) {
      this.#log.error("call-session", "message_failed", error);
      this.#sockets.error(ws, "internal", "Something went wrong on our side. Please try again.");
    }
  }

  override async webSocketClose(ws: WebSocket, code: number) {
    // Complete the closing handshake, so the caller's side sees the close at once.
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "Closed");
    } catch {
      // already closed
    }
    await this.#onSocketGone(ws, code);
  }

  override async webSocketError(ws: WebSocket, error: unknown) {
    this.#log.warn("call-session", "socket_error", error);
    await this.#onSocketGone(ws, 1006);
  }

  /** Every timer of the session shares the one alarm (deadlines.ts). */
  override async alarm() {
    const session = this.#store.session;
    if (!session) return this.#wipeStorage();
    const due = await this.#deadlines.takeDue();
    if (due.includes("transfer")) await this.#transfer.deadlinePassed();
    if (due.includes("silence")) await this.#silenceDue();
    // Whatever woke it, a session whose caller is gone past the window ends (idempotent).
    await this.#expireIfGone();
    // What the alarm decided is stored now, not when a turn running meanwhile lets it.
    this.#writes.flush();
  }

  /** A status callback from Twilio for this session's transfer (signature checked by the Worker). */
  async twilioStatus(callSid: string, status: CallStatus): Promise<void> {
    await this.#transfer.providerStatus(callSid, status);
  }

  /**
   * The session's own deadline, always set while it lives. With the caller connected it is a
   * heartbeat that notes when they were last seen; a runtime that stops with sockets open never
   * runs their close handlers, so the next wake-up finds no socket and counts the caller gone
   * since then. Gone past the resume window, the session ends.
   */
  async #expireIfGone() {
    const session = this.#store.session;
    if (!session) return;
    const now = Date.now();
    if (this.#sockets.signedIn().length > 0) {
      this.#store.saveSession({ ...session, lastSeenAt: now });
      return this.#deadlines.set("session", now + this.#heartbeatMs);
    }
    const goneSince = this.#goneSince(session);
    if (session.disconnectedAt === null)
      this.#store.saveSession({ ...session, disconnectedAt: goneSince });
    const deadline = goneSince + this.#config.resumeWindowMs;
    if (now < deadline) return this.#deadlines.set("session", deadline);
    await this.#endSession("expired");
  }

  get #heartbeatMs(): number {
    return Math.min(SESSION_HEARTBEAT_MS, this.#config.resumeWindowMs / 4);
  }

  /** When the caller was last known to be here, for a session with no socket open. */
  #goneSince(session: SessionRecord): number {
    return session.disconnectedAt ?? session.lastSeenAt ?? session.signedInAt;
  }

  // ---- messages ------------------------------------------------------------------------

  async #dispatch(ws: WebSocket, message: ClientMessage) {
    const attachment = this.#sockets.caller(ws);
    if (!attachment) return;
    switch (message.type) {
      case "ping":
        return this.#sockets.send(ws, { type: "pong", t: message.t });
      case "sign_in":
        if (attachment.signedIn)
          return this.#sockets.error(ws, "already_signed_in", "You are already signed in.");
        if (attachment.expect !== "sign_in") {
          return this.#sockets.error(
            ws,
            "invalid_message",
            "This connection resumes a session: send its resume token.",
          );
        }
        return this.#pinSignIn.check(ws, message.pin);
      case "resume":
        if (attachment.signedIn)
          return this.#sockets.error(ws, "already_signed_in", "You are already signed in.");
        return this.#resume(ws, message.token);
      case "user_text":
        if (!attachment.signedIn) return this.#sockets.notSignedIn(ws);
        return this.#onUserText(ws, message);
      case "audio_ready":
        if (!attachment.signedIn) return this.#sockets.notSignedIn(ws);
        this.#sockets.attach(ws, { ...attachment, audioReady: true });
        return this.#greet();
      case "playback_stopped":
        if (!attachment.signedIn) return this.#sockets.notSignedIn(ws);
        return this.#voiceInstance?.playbackStopped(message.turnId, message.playedMs);
      case "playback_started":
        if (!attachment.signedIn) return this.#sockets.notSignedIn(ws);
        return this.#voiceInstance?.playbackStarted(message.turnId, {
          playoutDelayMs: message.playoutDelayMs,
          ...(message.rttMs === undefined ? {} : { rttMs: message.rttMs }),
        });
      case "cancel_transfer":
        if (!attachment.signedIn) return this.#sockets.notSignedIn(ws);
        if (!(await this.#transfer.cancel())) {
          return this.#sockets.error(ws, "no_transfer", "There is no transfer to cancel.");
        }
        return;
      case "hang_up":
        if (!attachment.signedIn) {
          ws.close(CLOSE_CODES.hangUp, "Goodbye");
          return;
        }
        return this.#endSession("hang_up");
    }
  }

  #onBinary(ws: WebSocket, attachment: CallerAttachment, data: ArrayBuffer) {
    if (!attachment.signedIn) return this.#sockets.notSignedIn(ws);
    const parsed = decodeAudioFrame(data);
    if (!parsed.ok) return this.#sockets.error(ws, "bad_audio_frame", parsed.message);
    if (parsed.frame.kind !== AudioFrameKind.CallerPcm16k) {
      return this.#sockets.error(
        ws,
        "bad_audio_frame",
        "Only caller audio frames may be sent to the server.",
      );
    }
    // On the line with a person: the caller's voice goes to them, never to the assistant.
    if (this.#transfer.bridging) return this.#transfer.callerAudio(parsed.frame.pcm);
    if (this.#voiceSession) return this.#voiceSession.acceptAudio(parsed.frame.pcm);
    if (!attachment.audioNoticeSent) {
      this.#sockets.attach(ws, { ...attachment, audioNoticeSent: true });
      this.#sockets.error(
        ws,
        "audio_unavailable",
        "Voice is not set up on this server (no DEEPGRAM_API_KEY): please type your message.",
      );
    }
  }

  /**
   * Voice, when configured: built on the first audio frame of a signed-in caller. None while the
   * caller is on the line with a person (Deepgram is not paid to listen to that).
   */
  get #voiceSession(): VoiceSession | undefined {
    if (this.#transfer.bridging) return undefined;
    // Asked on every audio frame: the session record is read (and deserialised) only to build it.
    if (this.#voiceInstance) return this.#voiceInstance;
    const session = this.#store.session;
    if (!session || !VoiceSession.configured(this.env)) return undefined;
    this.#voiceInstance = new VoiceSession({
      env: this.env,
      sessionId: session.sessionId,
      sendJson: (message) => this.#sockets.broadcast(message),
      sendAudio: (pcm, replyStart) =>
        this.#sockets.sendAudio(AudioFrameKind.AssistantPcm, pcm, replyStart),
      runTurn: async (text, turn) => {
        const current = this.#store.session;
        if (!current) return;
        await this.#conversation.cancel();
        // A speculative turn taken back while the previous one was stopping: nothing to run.
        if (turn.output.cancelled) return;
        const entry: TranscriptEntry = {
          id: crypto.randomUUID(),
          role: "user",
          text,
          at: Date.now(),
        };
        // Shown and stored once the model request has left (the conversation runs it then); a
        // speculative turn shows nothing until the caller's turn is certain.
        const record = () =>
          turn.output.run(() => {
            this.#store.appendTranscript(entry);
            this.#sockets.broadcast({ type: "transcript", entry });
          });
        await this.#conversation.handleUserText(current, entry, turn, record);
        this.#activity();
      },
      cancelTurn: () => this.#conversation.cancel(),
      background: (label, work) => this.#runBackground(label, work),
      onCallerSpeech: () => this.#activity(),
      holdWrites: () => this.#writes.hold(MAX_HOLD_MS),
    });
    return this.#voiceInstance;
  }

  /**
   * Greets the caller aloud by name (and in the transcript), once per session, as soon as the
   * page can play audio: it says so with `audio_ready` (browsers start audio on a gesture).
   */
  async #greet() {
    const session = this.#store.session;
    const voice = this.#voiceSession;
    if (!session || !voice) return;
    // Each page that can play audio (a reload, a resumed call) starts the silence watch afresh.
    await this.#silence?.start();
    if (this.#store.greeted) return;
    this.#store.greeted = true;
    // What is due today, said in the greeting: a reminder nobody hears about is not a reminder.
    const due = await this.#dueToday(session);
    if (this.#store.session?.sessionId !== session.sessionId) return;
    const firstName = session.user.name.split(/\s+/)[0] ?? session.user.name;
    const text = greetingText(firstName, due, session.user.timezone, new Date());
    const heard = this.#sayAloud(text, { greeting: true });
    // The caller's silence counts from the end of the greeting, not from its start.
    this.#runBackground("greeting heard", async () => {
      await heard;
      this.#activity();
    });
    // The agent knows it greeted the caller, and what it told them (not over a running turn,
    // whose own checkpoint would drop the note).
    if (this.#conversation.busy) return;
    await this.#conversation.addNote(
      session,
      "(The call has started: you greeted the caller aloud with what is due today.)",
      text,
    );
  }

  /** Today's reminders and next event, or nothing if the database is slow or failing. */
  async #dueToday(session: SessionRecord): Promise<DueToday | undefined> {
    if (!this.env.DATABASE_URL) return undefined;
    let stopTimer = () => {};
    try {
      return await Promise.race([
        dueToday(this.#database, session.user, new Date()),
        new Promise<undefined>((resolve) => {
          const timer = setTimeout(resolve, DUE_TODAY_TIMEOUT_MS);
          stopTimer = () => clearTimeout(timer);
        }),
      ]);
    } catch (error) {
      this.#log.warn("call-session", "due_today_failed", error);
      return undefined;
    } finally {
      stopTimer();
    }
  }

  /**
   * Words the assistant says on its own (the greeting, a check-in): in the transcript, aloud,
   * and in the call's record. Resolves once they have had time to be heard.
   */
  #sayAloud(text: string, metrics: Record<string, boolean>): Promise<void> {
    const session = this.#store.session;
    if (!session) return Promise.resolve();
    const entry: TranscriptEntry = {
      id: crypto.randomUUID(),
      role: "assistant",
      text,
      at: Date.now(),
    };
    this.#store.appendTranscript(entry);
    this.#sockets.broadcast({ type: "transcript", entry });
    const turn = {
      sessionId: session.sessionId,
      seq: this.#store.nextTurnSeq(1),
      role: "assistant" as const,
      text,
      metrics,
    };
    this.#runBackground("assistant line transcript", () =>
      recordTranscriptTurns(this.#database, [turn]),
    );
    return this.#voiceSession?.speak(text) ?? Promise.resolve();
  }

  /**
   * The `silence` deadline passed: a gentle check-in, or after a long silence a goodbye and the
   * end of the call. A turn, a reply playing or a transfer under way is not silence.
   */
  async #silenceDue() {
    const silence = this.#silence;
    const session = this.#store.session;
    if (!silence || !session) return;
    // Nobody listening (the page is gone): the watch starts again when a page can play audio.
    if (this.#sockets.signedIn().length === 0) return silence.pause();
    // On the line with a person, or waiting for one: not a silence, and the watch goes on.
    if (isActive(this.#transfer.current)) return void (await silence.due(true));
    const voice = this.#voiceSession;
    if (!voice) return silence.pause();
    const busy = (this.#conversationInstance?.busy ?? false) || voice.speaking;
    const action = await silence.due(busy);
    if (action === "check_in") {
      this.#log.info("call-session", "silence_check_in", {});
      await this.#sayAloud(SILENCE_CHECK_IN, { silence: true });
      if (!this.#conversationInstance?.busy) {
        await this.#conversation.addNote(
          session,
          "(The caller had been silent for a while, so you checked in.)",
          SILENCE_CHECK_IN,
        );
      }
      return;
    }
    if (action !== "goodbye") return;
    const since = Date.now();
    await this.#sayAloud(SILENCE_GOODBYE, { silence: true });
    // They spoke over the goodbye: the call goes on, and so does the watch.
    if (silence.activeSince(since) || this.#conversationInstance?.busy) return silence.start();
    await this.#endSession("hang_up", "silence");
  }

  async #resume(ws: WebSocket, token: string) {
    const session = this.#store.session;
    const refused = (reason: "no_session" | "bad_token" | "expired") => {
      this.#log.info("call-session", "resume_refused", { reason });
      this.#sockets.send(ws, {
        type: "session_ended",
        reason: "expired",
        message: "That session can no longer be resumed. Please sign in again.",
      });
      ws.close(CLOSE_CODES.resumeRefused, "Resume refused");
    };
    if (!session) return refused("no_session");
    const tokenHash = await hashResumeToken(token);
    // No open socket of the caller's: they are gone since the disconnect, or since they were last
    // seen if the runtime stopped under their socket.
    const open = this.#sockets.signedIn().some((other) => other !== ws);
    const expired = !open && Date.now() - this.#goneSince(session) > this.#config.resumeWindowMs;
    if (!digestsEqual(tokenHash, session.resumeTokenHash)) return refused("bad_token");
    if (expired) return refused("expired");
    if (ws.readyState !== WebSocket.OPEN) return;

    const awaySince = open ? undefined : this.#goneSince(session);
    this.#log.info("call-session", "resume", {
      awayMs: awaySince === undefined ? 0 : Date.now() - awaySince,
      replaced: this.#sockets.callers().filter((other) => other !== ws).length,
    });
    // The same caller on a new connection: the old one, if still open, is replaced.
    for (const other of this.#sockets.callers()) {
      if (other === ws) continue;
      this.#sockets.send(other, {
        type: "session_ended",
        reason: "replaced",
        message: "This session continued on another connection.",
      });
      other.close(CLOSE_CODES.replaced, "Replaced by a newer connection");
    }
    const next = newResumeToken();
    const record: SessionRecord = {
      ...session,
      resumeTokenHash: await hashResumeToken(next),
      disconnectedAt: null,
      lastSeenAt: Date.now(),
    };
    this.#store.saveSession(record);
    await this.#admit(ws, record, next, true);
    // Ended now (its stream lost to a restart), the caller, signed in again, is told by it.
    if (!(await this.#transfer.reconcile())) {
      this.#transfer.showTo(ws, awaySince);
      await this.#transfer.handBackIfCut();
    }
    await this.#recoverCutTurn(record);
  }

  /**
   * A turn the runtime stopped under: its history checkpoint (written when a turn ends) never
   * came, so the model is told what the caller said and that its answer was lost, and the caller
   * is asked to say it again — rather than meeting an assistant that forgot, without a word.
   */
  async #recoverCutTurn(session: SessionRecord) {
    const cut = this.#store.turnInFlight;
    if (!cut || this.#conversationInstance?.busy) return;
    this.#store.turnInFlight = undefined;
    this.#log.warn("call-session", "turn_lost_to_restart", { turn: cut.turnId });
    const said = "Sorry — I lost my train of thought there. Could you say that again?";
    this.#runBackground("cut turn words", () => this.#sayAloud(said, { restart: true }));
    const words = cut.texts.join(" ").slice(0, 2_000);
    await this.#conversation.addNote(
      session,
      `[Note: the service restarted while you were answering the caller, so your answer was lost. The caller had said: "${words}". A tool you called then may or may not have finished: check before doing it again.]`,
      said,
    );
  }

  /**
   * Lets in a caller who signed in or resumed: the session's heartbeat, the socket marked signed
   * in, the welcome (with the transcript so far and a fresh resume token), the agent readied.
   */
  async #admit(ws: WebSocket, record: SessionRecord, token: string, resumed: boolean) {
    await this.#deadlines.set("session", Date.now() + this.#heartbeatMs);
    const attachment = this.#sockets.caller(ws);
    if (attachment) this.#sockets.attach(ws, { ...attachment, signedIn: true });
    this.#sockets.send(ws, this.#signedInMessage(record, token, resumed));
    this.#prepareAgent(ws);
  }

  /**
   * A signed-in caller's agent: built ahead of the first turn (its graph, its model client, its
   * checkpointer's tables) once what was just sent has left, so a burst of first turns does not
   * pay for it — or, with no agent configured, the caller is told so.
   */
  #prepareAgent(ws: WebSocket) {
    if (this.#config.agent) {
      setTimeout(() => {
        if (this.#store.session) this.#conversation.configured;
      }, 0);
      return;
    }
    this.#sockets.send(ws, {
      type: "notice",
      level: "warning",
      code: "agent_not_configured",
      text: AGENT_NOT_CONFIGURED,
    });
  }

  async #onUserText(ws: WebSocket, message: Extract<ClientMessage, { type: "user_text" }>) {
    const session = this.#store.session;
    if (!session) return this.#sockets.notSignedIn(ws);
    if (this.#transfer.bridging) {
      return this.#sockets.error(
        ws,
        "unavailable",
        "You're on the line with a person: the assistant is back when that call ends.",
      );
    }
    // The reply being written is cut off first, so the page closes it before the new line.
    await this.#conversation.cancel();
    const entry: TranscriptEntry = {
      id: message.id,
      role: "user",
      text: message.text,
      at: Date.now(),
    };
    this.#store.appendTranscript(entry);
    this.#sockets.send(ws, { type: "transcript", entry });
    this.#activity();
    // In a voice call whose page plays audio, a typed message is answered aloud too.
    const speech = this.#sockets.caller(ws)?.audioReady
      ? this.#voiceSession?.typedTurn()
      : undefined;
    await this.#conversation.handleUserText(session, entry, speech);
    this.#activity();
  }

  // ---- lifecycle -----------------------------------------------------------------------

  async #onSocketGone(ws: WebSocket, code: number) {
    const attachment = this.#sockets.caller(ws);
    if (!attachment) return this.#transfer.mediaClosed(ws);
    const others = this.#sockets.callers().filter((s) => s !== ws);
    if (!attachment.signedIn || others.some((s) => this.#sockets.caller(s)?.signedIn)) {
      if (!this.#store.session && others.length === 0) await this.#wipeStorage();
      return;
    }
    const session = this.#store.session;
    if (!session) return;
    this.#log.info("call-session", "disconnect", {
      code,
      resumeWindowSeconds: this.#config.resumeWindowMs / 1000,
    });
    // Nobody is listening: stop transcribing and speaking until the caller is back.
    this.#voiceInstance?.close();
    this.#voiceInstance = undefined;
    const disconnectedAt = Date.now();
    this.#store.saveSession({ ...session, disconnectedAt });
    await this.#deadlines.set("session", disconnectedAt + this.#config.resumeWindowMs);
    await this.#silence?.pause();
  }

  /** The person picked up and the audio is bridged: the assistant and its ears step aside. */
  async #onTransferConnected() {
    this.#voiceInstance?.close();
    this.#voiceInstance = undefined;
    await this.#conversationInstance?.cancel();
  }

  /**
   * The transfer is over: the caller is back with the assistant, which says what happened and
   * keeps a note of it in its history, so it can offer another try.
   */
  async #onTransferFinished(transfer: Transfer) {
    const session = this.#store.session;
    // Not set up: the tool's own answer told the assistant, inside the turn that asked.
    if (
      !session ||
      transfer.outcome === "caller_hung_up" ||
      transfer.outcome === "not_configured"
    ) {
      return;
    }
    await this.#conversationInstance?.cancel();
    const said = backWithAssistant(transfer);
    if (said) this.#runBackground("transfer words", () => this.#sayAloud(said, { transfer: true }));
    await this.#conversation.addNote(session, noteForAssistant(transfer), said);
    // Back with the assistant: a silence counts from here.
    this.#activity();
  }

  /**
   * `cause`: why the assistant ended the call — the caller said goodbye (`end_call`), or a long
   * silence. The page hears `hang_up` either way; the record keeps the cause.
   */
  async #endSession(reason: "hang_up" | "expired", cause?: "goodbye" | "silence") {
    const session = this.#store.session;
    if (session) {
      this.#log.info("call-session", reason === "hang_up" ? "hang_up" : "session_expired", {
        durationMs: Date.now() - session.signedInAt,
        ...(cause ? { cause } : {}),
      });
    }
    await this.#transferInstance?.callerGone();
    this.#voiceInstance?.close();
    this.#voiceInstance = undefined;
    await this.#conversationInstance?.cancel();
    for (const ws of this.#sockets.callers()) {
      this.#sockets.send(ws, {
        type: "session_ended",
        reason,
        message: reason === "hang_up" ? "Goodbye!" : "This session has expired.",
      });
      ws.close(reason === "hang_up" ? CLOSE_CODES.hangUp : CLOSE_CODES.expired, "Session ended");
    }
    await this.#wipeStorage();
    if (session && this.env.DATABASE_URL) {
      try {
        await recordCallSessionEnd(this.#database, session.sessionId, cause ?? reason);
      } catch (error) {
        this.#log.warn("call-session", "session_end_not_recorded", error);
      }
    }
  }

  // ---- helpers -------------------------------------------------------------------------

  #signedInMessage(
    record: SessionRecord,
    token: string,
    resumed: boolean,
  ): ServerMessageOf<"signed_in"> {
    return {
      type: "signed_in",
      sessionId: record.sessionId,
      resumeToken: token,
      resumeWindowSeconds: this.#config.resumeWindowMs / 1000,
      resumed,
      user: {
        name: record.user.name,
        timezone: record.user.timezone,
        teams: record.user.teams.map(({ name, role }) => ({ name, role })),
      },
      transcript: this.#store.transcript,
    };
  }

  /**
   * Deletes the object's storage, and every in-memory copy of it: the deadlines, the transcript's
   * count, the silence, the transfer and the conversation (its checkpointer's tables are gone).
   */
  async #wipeStorage() {
    this.#writes.discard();
    await this.ctx.storage.deleteAll();
    // Writes made meanwhile (a turn ending) would bring back what was wiped.
    this.#writes.discard();
    this.#deadlines.forget();
    this.#store.forget();
    this.#silenceInstance = undefined;
    this.#transferInstance = undefined;
    this.#conversationInstance = undefined;
  }

  #runBackground(label: string, work: () => Promise<unknown>) {
    this.ctx.waitUntil(
      work().catch((error: unknown) =>
        this.#log.warn("call-session", "background_failed", { task: label, error }),
      ),
    );
  }
}
