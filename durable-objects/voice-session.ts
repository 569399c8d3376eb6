/**
 * The caller's voice for one session: their audio streams to Deepgram live transcription; a
 * finished turn becomes a conversation turn; the reply is spoken sentence by sentence through
 * Aura; and speaking over the assistant (at least BARGE_IN_MIN_WORDS words) stops it at once.
 * With Flux, an EagerEndOfTurn starts the reply speculatively: held back until EndOfTurn
 * commits it, dropped if the caller resumes. Active only when DEEPGRAM_API_KEY is configured.
 */
import type { ServerMessage } from "../protocol/messages.ts";
import { AuraSocket } from "../voice/deepgram/aura-socket.ts";
import { type AuraOptions, synthesize } from "../voice/deepgram/aura-tts.ts";
import { connectLiveStt, type LiveStt, type SttEvent } from "../voice/deepgram/live-stt.ts";
import { HeldOutput } from "../voice/held-output.ts";
import { AudioClock, type TurnMarks } from "../voice/turn-metrics.ts";
import { config, type VoiceConfig } from "../worker/config.ts";
import { log } from "../worker/log.ts";
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
}

/** 30 s of 20 ms frames. */
const MAX_REPLAY_FRAMES = 1_500;
/** Deepgram closes a live socket after ~10 s without audio; KeepAlive holds it open. */
const KEEPALIVE_AFTER_MS = 5_000;
/** 16 kHz PCM16: 32 bytes per millisecond. */
const BYTES_PER_MS = 32;

interface CallerFrame {
  pcm: Uint8Array;
  /** When it reached the server: end-of-speech times are measured from here. */
  at: number;
}

export class VoiceSession {
  readonly #deps: VoiceDeps;
  #stt: LiveStt | undefined;
  #connecting: Promise<void> | undefined;
  /** Audio that arrived while the STT socket was (re)opening: sent once it is open. */
  #buffered: CallerFrame[] = [];
  /**
   * Audio since Deepgram last made words final. If the socket drops, Deepgram loses what it
   * had not finalised, so this is sent again on the new socket: no words are lost.
   */
  #sinceFinal: CallerFrame[] = [];
  readonly #clock = new AudioClock();
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
  #lastAudioAt = 0;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  readonly #settings: VoiceConfig;
  readonly #aura: AuraOptions;
  /** Aura's WebSocket, when that is the transport: one for the whole call. */
  readonly #auraSocket: AuraSocket | undefined;

  constructor(deps: VoiceDeps) {
    this.#deps = deps;
    const settings = config(deps.env).voice;
    if (!settings)
      throw new Error("VoiceSession needs DEEPGRAM_API_KEY (check configured() first).");
    this.#settings = settings;
    this.#aura = { apiKey: settings.apiKey, baseUrl: settings.baseUrl, model: settings.ttsModel };
    this.#auraSocket = settings.ttsTransport === "http" ? undefined : new AuraSocket(this.#aura);
  }

  static configured(env: Env): boolean {
    return config(env).voice !== undefined;
  }

  /** One frame of caller audio (16 kHz PCM16). */
  acceptAudio(pcm: Uint8Array) {
    const frame = { pcm: pcm.slice(), at: Date.now() };
    this.#lastAudioAt = frame.at;
    this.#sinceFinal.push(frame);
    // Bounded: a caller who talks for minutes without a pause does not grow memory forever.
    if (this.#sinceFinal.length > MAX_REPLAY_FRAMES) this.#sinceFinal.shift();
    if (this.#stt) return this.#send(this.#stt, frame);
    this.#buffered.push(frame);
    this.#reconnect();
  }

  /** Speaks `text` on its own (the greeting): no model, but barge-in and metrics as any reply. */
  speak(text: string) {
    const marks: TurnMarks = { pipelineStartAt: Date.now() };
    const turn = this.#newTurn(marks, HeldOutput.committed());
    this.#speech?.stop();
    this.#speech = turn;
    turn.write(text);
    this.#deps.background(`voice ${turn.id}`, () => turn.end());
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

  #send(stt: LiveStt, frame: CallerFrame) {
    this.#clock.sent(frame.pcm.byteLength / BYTES_PER_MS, frame.at);
    stt.sendAudio(frame.pcm);
  }

  #reconnect() {
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
  }

  close() {
    this.#closed = true;
    clearInterval(this.#keepAlive);
    this.#speech?.stop();
    this.#draft?.turn.output.cancel();
    this.#stt?.close();
    this.#stt = undefined;
    this.#auraSocket?.close();
  }

  async #connect() {
    const settings = this.#settings;
    let stt: LiveStt | undefined;
    try {
      stt = await connectLiveStt(
        {
          apiKey: settings.apiKey,
          baseUrl: settings.baseUrl,
          model: settings.sttModel,
          extra: { session: this.#deps.sessionId },
        },
        (event) => this.#onStt(stt, event),
      );
      const open = stt;
      // The caller left while the socket was opening: do not keep it.
      if (this.#closed) return open.close();
      this.#stt = open;
      this.#clock.reset();
      for (const frame of this.#buffered.splice(0)) this.#send(open, frame);
      clearInterval(this.#keepAlive);
      this.#keepAlive = setInterval(() => {
        if (Date.now() - this.#lastAudioAt >= KEEPALIVE_AFTER_MS) open.keepAlive();
      }, KEEPALIVE_AFTER_MS);
    } catch (error) {
      log.error("voice", "could not reach Deepgram", error);
      this.#buffered.length = 0;
      this.#deps.sendJson({
        type: "error",
        code: "audio_unavailable",
        message:
          "I can't hear you right now: speech recognition is unavailable. Please type instead.",
        fatal: false,
      });
    }
  }

  #onStt(stt: LiveStt | undefined, event: SttEvent) {
    switch (event.type) {
      case "speech_started":
        return;
      case "interim":
        this.#deps.sendJson({ type: "interim_transcript", text: event.text });
        return this.#maybeBargeIn(event.text);
      case "final":
        // Deepgram will not revise these words: audio before them need not be replayed.
        this.#sinceFinal = [];
        this.#sttFinalAt = Date.now();
        if (event.audioEndSec !== undefined)
          this.#speechEndAt = this.#clock.arrivalOf(event.audioEndSec) ?? this.#speechEndAt;
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
      case "closed": {
        const current = this.#stt === stt;
        if (current) this.#stt = undefined;
        clearInterval(this.#keepAlive);
        if (!current || event.code === 1000 || this.#closed) return;
        // Dropped: reopen at once and hear again everything not yet final.
        log.warn("voice", `Deepgram socket dropped (${event.code}); reconnecting`);
        this.#buffered = [...this.#sinceFinal];
        this.#reconnect();
        return;
      }
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
    speech.cleared();
    this.#deps.sendJson({ type: "playback_clear", turnId: speech.id });
    this.#deps.background("barge-in", () => this.#deps.cancelTurn());
  }

  #startDraft(text: string, audioEndSec: number) {
    if (this.#draft || !text || this.#isListening(text)) return;
    const speechEndAt = this.#clock.arrivalOf(audioEndSec);
    const marks: TurnMarks = {
      pipelineStartAt: Date.now(),
      speculative: true,
      ...(speechEndAt === undefined ? {} : { speechEndAt }),
    };
    const turn = this.#newTurn(marks, new HeldOutput());
    this.#draft = { text, turn };
    this.#deps.background(`voice ${turn.id} (speculative)`, () => this.#deps.runTurn(text, turn));
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
    this.#deps.background(`voice ${turn.id}`, () => this.#deps.runTurn(text, turn));
  }

  #newTurn(marks: TurnMarks, output: HeldOutput): VoiceTurn {
    this.#turnSeq += 1;
    const socket = this.#auraSocket;
    const turn = new VoiceTurn({
      id: `v${this.#turnSeq}`,
      marks,
      output,
      synthesize: (sentence, signal) =>
        socket ? socket.synthesize(sentence, signal) : synthesize(sentence, this.#aura, signal),
      sendAudio: (pcm, replyStart) => this.#deps.sendAudio(pcm, replyStart),
      onFirstAudio: (turn) => this.#reportMetrics(turn),
      onError: (error) => log.error("voice", "speech synthesis failed", error),
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
    this.#deps.sendJson({ type: "voice_metrics", turnId: turn.id, ...summary });
    log.info(
      "voice",
      `turn ${turn.id}: ${Object.entries(summary)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")}`,
    );
  }
}
