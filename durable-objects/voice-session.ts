/**
 * The caller's voice for one session: their audio streams to Deepgram live transcription; a
 * finished utterance becomes a conversation turn; the reply is spoken sentence by sentence
 * through Aura; and speaking over the assistant (at least BARGE_IN_MIN_WORDS words) stops it
 * at once. Active only when DEEPGRAM_API_KEY is configured.
 */
import type { ServerMessage } from "../protocol/messages.ts";
import { synthesize } from "../voice/deepgram/aura-tts.ts";
import { connectLiveStt, type LiveStt, type SttEvent } from "../voice/deepgram/live-stt.ts";
import { SpeechOutput } from "../voice/speech-output.ts";
import { log } from "../worker/log.ts";

export interface VoiceDeps {
  env: Env;
  sessionId: string;
  sendJson(message: ServerMessage): void;
  sendFrame(frame: Uint8Array): void;
  /** Runs a conversation turn for what the caller said, speaking the reply into `speech`. */
  runTurn(text: string, speech: SpeechOutput): Promise<void>;
  cancelTurn(): Promise<void>;
  background(label: string, work: () => Promise<unknown>): void;
}

const DEEPGRAM_API = "https://api.deepgram.com";
/** 30 s of 20 ms frames. */
const MAX_REPLAY_FRAMES = 1_500;
/** Deepgram closes a live socket after ~10 s without audio; KeepAlive holds it open. */
const KEEPALIVE_AFTER_MS = 5_000;

export class VoiceSession {
  readonly #deps: VoiceDeps;
  #stt: LiveStt | undefined;
  #connecting: Promise<void> | undefined;
  /** Audio that arrived while the STT socket was (re)opening: sent once it is open. */
  #buffered: Uint8Array[] = [];
  /**
   * Audio since Deepgram last made words final. If the socket drops, Deepgram loses what it
   * had not finalised, so this is sent again on the new socket: no words are lost.
   */
  #sinceFinal: Uint8Array[] = [];
  #finals: string[] = [];
  #speech: SpeechOutput | undefined;
  #turnId = 0;
  #endOfTurnAt: number | undefined;
  #lastAudioAt = 0;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(deps: VoiceDeps) {
    this.#deps = deps;
  }

  static configured(env: Env): boolean {
    return Boolean(env.DEEPGRAM_API_KEY);
  }

  /** One frame of caller audio (16 kHz PCM16). */
  acceptAudio(pcm: Uint8Array) {
    this.#lastAudioAt = Date.now();
    const copy = pcm.slice();
    this.#sinceFinal.push(copy);
    // Bounded: a caller who talks for minutes without a pause does not grow memory forever.
    if (this.#sinceFinal.length > MAX_REPLAY_FRAMES) this.#sinceFinal.shift();
    if (this.#stt) return this.#stt.sendAudio(pcm);
    this.#buffered.push(copy);
    this.#reconnect();
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
    this.#stt?.close();
    this.#stt = undefined;
  }

  async #connect() {
    const { env } = this.#deps;
    let stt: LiveStt | undefined;
    try {
      stt = await connectLiveStt(
        {
          apiKey: env.DEEPGRAM_API_KEY,
          baseUrl: env.DEEPGRAM_BASE_URL || DEEPGRAM_API,
          model: env.DEEPGRAM_STT_MODEL,
          extra: { session: this.#deps.sessionId },
        },
        (event) => this.#onStt(stt, event),
      );
      const open = stt;
      // The caller left while the socket was opening: do not keep it.
      if (this.#closed) return open.close();
      this.#stt = open;
      for (const pcm of this.#buffered.splice(0)) open.sendAudio(pcm);
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
        this.#finals.push(event.text);
        this.#maybeBargeIn(event.text);
        if (event.endOfTurn) this.#endTurn();
        return;
      case "utterance_end":
        return this.#endTurn();
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
    return words < Number(this.#deps.env.BARGE_IN_MIN_WORDS || 2);
  }

  #maybeBargeIn(text: string) {
    if (!this.#speech?.speaking || this.#isBackchannel(text)) return;
    this.#speech.stop();
    this.#deps.sendJson({ type: "playback_clear", turnId: `v${this.#turnId}` });
    this.#deps.background("barge-in", () => this.#deps.cancelTurn());
  }

  #endTurn() {
    const text = this.#finals.join(" ").trim();
    this.#finals = [];
    if (!text) return;
    // "mm-hm" while the assistant speaks is listening, not a new turn.
    if (this.#speech?.speaking && this.#isBackchannel(text)) return;
    this.#endOfTurnAt = Date.now();
    this.#turnId += 1;
    const turnId = `v${this.#turnId}`;
    const endOfTurnAt = this.#endOfTurnAt;
    const { env } = this.#deps;
    const speech = new SpeechOutput({
      synthesize: (sentence, signal) =>
        synthesize(
          sentence,
          {
            apiKey: env.DEEPGRAM_API_KEY,
            baseUrl: env.DEEPGRAM_BASE_URL || DEEPGRAM_API,
            model: env.DEEPGRAM_TTS_MODEL,
          },
          signal,
        ),
      sendFrame: (frame) => this.#deps.sendFrame(frame),
      onFirstAudio: (ttsFirstByteMs) =>
        this.#deps.sendJson({
          type: "voice_metrics",
          turnId,
          endToEndMs: Date.now() - endOfTurnAt,
          ttsFirstByteMs,
        }),
      onError: (error) => log.error("voice", "speech synthesis failed", error),
    });
    this.#speech?.stop();
    this.#speech = speech;
    this.#deps.background(`voice turn ${turnId}`, () => this.#deps.runTurn(text, speech));
  }
}
