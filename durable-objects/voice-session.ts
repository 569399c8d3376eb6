/**
 * The caller's voice for one session: their audio streams to Deepgram live transcription; a
 * finished turn becomes a conversation turn; the reply is spoken sentence by sentence through
 * Aura; and speaking over the assistant (at least BARGE_IN_MIN_WORDS words) stops it at once.
 * With Flux, an EagerEndOfTurn starts the reply speculatively: held back until EndOfTurn
 * commits it, dropped if the caller resumes. Active only when DEEPGRAM_API_KEY is configured.
 */
import type { ServerMessage } from "../protocol/messages.ts";
import { apologyClip, prepareApologyClip } from "../voice/apology-clip.ts";
import { AuraSocket } from "../voice/deepgram/aura-socket.ts";
import { AURA_MAX_CHARS, type AuraOptions, synthesize } from "../voice/deepgram/aura-tts.ts";
import { connectLiveStt, type TranscriptEvent } from "../voice/deepgram/live-stt.ts";
import { HeldOutput } from "../voice/held-output.ts";
import { SttLink } from "../voice/stt-link.ts";
import type { TurnMarks } from "../voice/turn-metrics.ts";
import { config, type VoiceConfig } from "../worker/config.ts";
import { type Logger, log } from "../worker/log.ts";
import { afterOtherRepliesStarted, replyAwaited } from "./first-audio-priority.ts";
import { type PlaybackFigures, VoiceTurn } from "./voice-turn.ts";

export interface VoiceDeps {
  env: Env;
  sessionId: string;
  sendJson(message: ServerMessage): void;
  /** Assistant speech as plain PCM; the sockets frame it for the page. */
  sendAudio(pcm: Uint8Array, replyStart: boolean): void;
  /** Runs a conversation turn for what the caller said, speaking the reply into `turn`. */
  runTurn(text: string, turn: VoiceTurn): Promise<void>;
  cancelTurn(): Promise<void>;
  background(label: string, work: () => Promise<unknown>): void;
  /** The caller is speaking (every word Deepgram hears): their silence, if any, is over. */
  onCallerSpeech?(): void;
  /** Holds the object's storage writes until the returned release (write-behind.ts). */
  holdWrites?(): () => void;
}

/** What the caller is told (on the page, and aloud when the voice works) when Deepgram fails. */
export const HEARING_TROUBLE = "I'm having trouble hearing you — one moment.";
export const HEARING_LOST =
  "I still can't hear you: speech recognition is unavailable right now. Please type your message instead.";
const HEARING_LOST_SPOKEN = "I still can't hear you. Please type your message instead.";
export const VOICE_LOST = "The assistant's voice cut out — its answer is written here.";

export class VoiceSession {
  readonly #deps: VoiceDeps;
  readonly #stt: SttLink;
  #finals: string[] = [];
  #speechEndAt: number | undefined;
  #sttFinalAt: number | undefined;
  /** The reply the caller hears (or heard last). */
  #speech: VoiceTurn | undefined;
  /** Recent replies, so a playback report that arrives late still finds its turn. */
  readonly #recent = new Map<string, VoiceTurn>();
  /** Flux: a reply started on EagerEndOfTurn, held until EndOfTurn. */
  #draft: { text: string; turn: VoiceTurn } | undefined;
  #turnSeq = 0;
  #closed = false;
  readonly #settings: VoiceConfig;
  readonly #aura: AuraOptions;
  /** Aura's WebSocket, when that is the transport: one for the whole call. */
  readonly #auraSocket: AuraSocket | undefined;
  readonly #log: Logger;

  constructor(deps: VoiceDeps) {
    this.#deps = deps;
    this.#log = log.with({ session: deps.sessionId });
    const settings = config(deps.env).voice;
    if (!settings)
      throw new Error("VoiceSession needs DEEPGRAM_API_KEY (check configured() first).");
    this.#settings = settings;
    this.#aura = {
      apiKey: settings.apiKey,
      baseUrl: settings.baseUrl,
      model: settings.ttsModel,
      tag: `session:${deps.sessionId}`,
      connectTimeoutMs: settings.ttsTimeoutMs,
    };
    this.#auraSocket = settings.ttsTransport === "http" ? undefined : new AuraSocket(this.#aura);
    this.#stt = new SttLink(
      {
        connect: (onEvent, signal) =>
          connectLiveStt(
            {
              apiKey: settings.apiKey,
              baseUrl: settings.baseUrl,
              model: settings.sttModel,
              extra: { session: deps.sessionId },
            },
            onEvent,
            signal,
          ),
        onEvent: (event) => this.#onStt(event),
        onTrouble: () => this.#hearingTrouble(),
        onGaveUp: () => this.#hearingLost(),
        // Lost sockets, failed attempts (each followed by a retry) and giving up are errors of
        // the provider; a socket reopened is its recovery.
        log: (level, message, error) =>
          level === "warn"
            ? this.#log.warn("voice", "provider_error", {
                provider: "deepgram_stt",
                message,
                error,
              })
            : this.#log.info("voice", "provider_recovered", { provider: "deepgram_stt", message }),
      },
      {
        baseMs: settings.sttReconnectBaseMs,
        maxMs: settings.sttReconnectMaxMs,
        silentTimeoutMs: settings.sttSilentTimeoutMs,
        giveUpAfterMs: settings.sttGiveUpAfterMs,
      },
    );
    // The apology for a voice that fails mid-reply must exist before it is needed.
    const clipOptions: AuraOptions = { ...this.#aura, tag: undefined };
    deps.background("apology clip", () =>
      prepareApologyClip(
        this.#voiceName,
        (text, signal, onAudio) => synthesize(text, clipOptions, signal, onAudio),
        settings.ttsTimeoutMs,
      ),
    );
  }

  static configured(env: Env): boolean {
    return config(env).voice !== undefined;
  }

  /** One frame of caller audio (16 kHz PCM16). */
  acceptAudio(pcm: Uint8Array) {
    this.#stt.send(pcm, Date.now());
  }

  /**
   * Speaks `text` on its own (the greeting, a notice): no model, but barge-in and metrics as any
   * reply. `apologise: false` for words that are themselves about trouble: if the voice fails
   * on them, the page has already said it.
   */
  speak(text: string, options: { apologise?: boolean } = {}): Promise<void> {
    const marks: TurnMarks = { pipelineStartAt: Date.now() };
    const turn = this.#newTurn(marks, HeldOutput.committed(), options.apologise ?? true);
    this.#speech?.stop();
    this.#speech = turn;
    turn.write(text);
    // Resolves once the words have had time to be heard (or were cut off); never rejects.
    const heard = turn.end().catch(() => undefined);
    this.#deps.background(`voice ${turn.id}`, () => heard);
    return heard;
  }

  /** The caller is hearing the assistant: a reply or a notice is still playing. */
  get speaking(): boolean {
    return this.#speech?.speaking ?? false;
  }

  /**
   * The voice for a typed message's reply in a call whose page plays audio: answered aloud as
   * well as in text, and spoken over like any reply.
   */
  typedTurn(): VoiceTurn {
    const now = Date.now();
    const turn = this.#newTurn({ pipelineStartAt: now }, HeldOutput.committed());
    this.#speech?.stop();
    this.#speech = turn;
    return turn;
  }

  /** The page stopped a reply after playing `playedMs` of it (it was told to: barge-in). */
  playbackStopped(turnId: string, playedMs: number) {
    this.#recent.get(turnId)?.playbackStopped(playedMs);
  }

  /** The page started playing a reply: completes its end-to-end figure. */
  playbackStarted(turnId: string, figures: PlaybackFigures) {
    const turn = this.#recent.get(turnId);
    if (!turn) return;
    turn.playbackStarted(figures);
    this.#reportMetrics(turn);
  }

  close() {
    this.#closed = true;
    this.#speech?.stop();
    this.#draft?.turn.output.cancel();
    this.#stt.close();
    this.#auraSocket?.close();
  }

  get #voiceName(): string {
    return `${this.#aura.baseUrl} ${this.#aura.model}`;
  }

  /** Transcription dropped out and did not come straight back: said once per outage. */
  #hearingTrouble() {
    if (this.#closed) return;
    this.#deps.sendJson({
      type: "notice",
      level: "warning",
      code: "audio_reconnecting",
      text: HEARING_TROUBLE,
    });
    // Not over a reply the caller is listening to: the page shows it.
    if (!this.#speech?.speaking) this.speak(HEARING_TROUBLE, { apologise: false });
  }

  /** Transcription stayed unreachable: the caller is asked to type (the page keeps its text box). */
  #hearingLost() {
    if (this.#closed) return;
    this.#deps.sendJson({
      type: "error",
      code: "audio_unavailable",
      message: HEARING_LOST,
      fatal: false,
    });
    // Words Deepgram had already made final are not lost: they are answered.
    if (this.#finals.length) this.#endTurn();
    else if (!this.#speech?.speaking) this.speak(HEARING_LOST_SPOKEN, { apologise: false });
  }

  #onStt(event: TranscriptEvent) {
    this.#handleStt(event);
    // Words, not Deepgram's voice activity: background noise does not keep a silent call open.
    // After the event: a turn it started already holds the writes this activity makes.
    if ((event.type === "interim" || event.type === "final") && event.text.trim())
      this.#deps.onCallerSpeech?.();
  }

  #handleStt(event: TranscriptEvent) {
    switch (event.type) {
      case "speech_started":
        // A reply will be wanted soon: Aura's socket (closed by a fault, or never yet opened
        // when no greeting was played) opens while the caller talks.
        return this.#auraSocket?.warm();
      case "interim":
        this.#deps.sendJson({ type: "interim_transcript", text: event.text });
        return this.#maybeBargeIn(event.text);
      case "final":
        this.#sttFinalAt = Date.now();
        if (event.audioEndSec !== undefined)
          this.#speechEndAt = this.#stt.arrivalOf(event.audioEndSec) ?? this.#speechEndAt;
        if (event.wholeTurn) this.#finals = [event.text];
        else this.#finals.push(event.text);
        this.#maybeBargeIn(event.text);
        if (event.endOfTurn) this.#endTurn();
        return;
      case "utterance_end":
        return this.#endTurn();
      case "eager_end_of_turn":
        return this.#startDraft(event.text, event.audioEndSec);
      case "turn_resumed":
        return this.#dropDraft();
    }
  }

  #isBackchannel(text: string): boolean {
    const words = text.trim().split(/\s+/).filter(Boolean).length;
    return words < this.#settings.bargeInMinWords;
  }

  /** "mm-hm" while the assistant speaks is listening, not a new turn. */
  #isListening(text: string): boolean {
    return Boolean(this.#speech?.speaking) && this.#isBackchannel(text);
  }

  #maybeBargeIn(text: string) {
    const speech = this.#speech;
    if (!speech?.speaking || this.#isBackchannel(text)) return;
    this.#log.info("voice", "barge_in", {
      voiceTurn: speech.id,
      words: text.trim().split(/\s+/).length,
    });
    speech.cleared();
    this.#deps.sendJson({ type: "playback_clear", turnId: speech.id });
    this.#deps.background("barge-in", () => this.#deps.cancelTurn());
  }

  #startDraft(text: string, audioEndSec: number) {
    if (this.#draft || !text || this.#isListening(text)) return;
    const speechEndAt = this.#stt.arrivalOf(audioEndSec);
    const marks: TurnMarks = {
      pipelineStartAt: Date.now(),
      speculative: true,
      ...(speechEndAt === undefined ? {} : { speechEndAt }),
    };
    const turn = this.#newTurn(marks, new HeldOutput());
    this.#draft = { text, turn };
    this.#run(turn, text, `voice ${turn.id} (speculative)`);
  }

  #dropDraft() {
    const draft = this.#draft;
    if (!draft) return;
    this.#draft = undefined;
    // Already taken back (a typed message cut it off): the turn running now is another one.
    if (draft.turn.output.cancelled) return;
    draft.turn.output.cancel();
    this.#deps.background("speculative turn resumed", () => this.#deps.cancelTurn());
  }

  #endTurn() {
    const text = this.#finals.join(" ").trim();
    this.#finals = [];
    const speechEndAt = this.#speechEndAt;
    const sttFinalAt = this.#sttFinalAt;
    this.#speechEndAt = undefined;
    this.#sttFinalAt = undefined;
    if (!text || this.#isListening(text)) return this.#dropDraft();
    const now = Date.now();
    const draft = this.#draft;
    // A draft cancelled meanwhile (a typed message took over) cannot be committed: start afresh.
    if (draft && draft.text === text && !draft.turn.output.cancelled) {
      // The speculation was right: what it has prepared leaves now.
      this.#draft = undefined;
      Object.assign(draft.turn.marks, { endOfTurnAt: now, sttFinalAt: sttFinalAt ?? now });
      this.#speech?.stop();
      this.#speech = draft.turn;
      draft.turn.output.commit();
      return;
    }
    this.#dropDraft();
    const marks: TurnMarks = {
      endOfTurnAt: now,
      pipelineStartAt: now,
      ...(speechEndAt === undefined ? {} : { speechEndAt }),
      ...(sttFinalAt === undefined ? {} : { sttFinalAt }),
    };
    const turn = this.#newTurn(marks, HeldOutput.committed());
    this.#speech?.stop();
    this.#speech = turn;
    this.#run(turn, text, `voice ${turn.id}`);
  }

  /**
   * Runs a conversation turn. The object's storage writes wait until its reply has started (its
   * first audio left, or a tool started) or it ended, and for an answer in one call until it is
   * recorded too (conversation.ts): the model request and the first audio then leave without
   * waiting for the turn's bookkeeping to be committed (write-behind.ts).
   * Once it has started, they wait on until no other call of the isolate still waits for its
   * reply (first-audio-priority.ts): a commit is an fsync on the thread every call shares.
   */
  #run(turn: VoiceTurn, text: string, label: string) {
    const release = this.#deps.holdWrites?.() ?? (() => undefined);
    const started = replyAwaited(this.#deps.sessionId);
    turn.onceStarted(() => {
      started();
      void afterOtherRepliesStarted(this.#deps.sessionId).then(release);
    });
    this.#deps.background(label, () =>
      this.#deps.runTurn(text, turn).finally(() => {
        started();
        release();
      }),
    );
  }

  #newTurn(marks: TurnMarks, output: HeldOutput, apologise = true): VoiceTurn {
    this.#turnSeq += 1;
    const id = `v${this.#turnSeq}`;
    const socket = this.#auraSocket;
    const voice = this.#voiceName;
    const turn = new VoiceTurn({
      id,
      marks,
      output,
      synthesize: (sentence, signal, onAudio) =>
        socket
          ? socket.synthesize(sentence, signal, onAudio)
          : synthesize(sentence, this.#aura, signal, onAudio),
      sendAudio: (pcm, replyStart) => this.#deps.sendAudio(pcm, replyStart),
      onFirstAudio: (turn) => this.#reportMetrics(turn),
      onError: (error) =>
        this.#log.error("voice", "provider_error", {
          provider: "deepgram_tts",
          voiceTurn: id,
          error,
        }),
      timeoutMs: this.#settings.ttsTimeoutMs,
      maxTextChars: AURA_MAX_CHARS,
      holdOnAfterMs: this.#settings.holdOnAfterMs,
      toolHoldOnMs: this.#settings.toolHoldOnMs,
      ...(apologise
        ? {
            apologyClip: () => apologyClip(voice),
            onFailed: (failed: VoiceTurn, clipPlayed: boolean) => {
              if (!clipPlayed)
                this.#log.warn("voice", "apology_clip_missing", { voiceTurn: failed.id });
              failed.output.run(() =>
                this.#deps.sendJson({
                  type: "notice",
                  level: "warning",
                  code: "speech_unavailable",
                  text: VOICE_LOST,
                }),
              );
            },
          }
        : {}),
    });
    this.#recent.set(turn.id, turn);
    // A handful is plenty: reports come within a second of the reply.
    for (const id of this.#recent.keys()) {
      if (this.#recent.size <= 4) break;
      this.#recent.delete(id);
    }
    return turn;
  }

  #reportMetrics(turn: VoiceTurn) {
    const summary = turn.summary();
    // Logged once, with the conversation's turn line (conversation.ts), not here.
    this.#deps.sendJson({ type: "voice_metrics", turnId: turn.id, ...summary });
  }
}
