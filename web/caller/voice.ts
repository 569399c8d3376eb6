/**
 * The page's microphone and speaker: 20 ms frames of 16 kHz PCM from an AudioWorklet to the
 * session socket, and the assistant's audio frames (and, on a transfer, the person's) into a
 * playback worklet with a jitter buffer. Echo cancellation and noise suppression are on, so
 * the voice played is not heard back as the caller speaking.
 *
 * Everything played — the player and the ringback — goes through the output meter to the
 * speakers.
 */
import { AudioFrameKind, encodeAudioFrame } from "../../protocol/audio-frame.ts";
import { OutputMeter } from "./audio/output-meter.ts";
import type { PlayerInput, PlayerReport } from "./audio/player-processor.ts";
import { Ringback } from "./audio/ringback.ts";

/** Quiet after the assistant spoke before the ringback starts. */
const RINGBACK_AFTER_SPEECH_MS = 500;

export interface VoiceEvents {
  sendFrame(frame: Uint8Array<ArrayBuffer>): void;
  onPlaying(playing: boolean): void;
  /** A reply started playing, `playoutDelayMs` after its first frame arrived. */
  onReplyStarted(playoutDelayMs: number): void;
  /** Playback was cleared after `playedMs` of the current reply. */
  onCleared(playedMs: number): void;
}

export class VoiceIO {
  readonly #events: VoiceEvents;
  readonly #meterElement: HTMLMeterElement;
  #contextReady: Promise<AudioContext> | undefined;
  #stream: MediaStream | undefined;
  #mic: AudioWorkletNode | undefined;
  #player: AudioWorkletNode | undefined;
  #seq = 0;
  #replyArrivedAt: number | undefined;
  #ringback: Ringback | undefined;
  #ringbackWanted = false;
  #ringbackTimer: ReturnType<typeof setTimeout> | undefined;
  /** The player is sounding (the assistant or the person), as it last reported. */
  #playing = false;
  /** When the player last went quiet (performance.now()). */
  #idleAt = -Infinity;
  /** Frames handed to the player, for the page's own checks. */
  played = 0;

  /** `meterElement`: the speaker level meter (see OutputMeter). */
  constructor(events: VoiceEvents, meterElement: HTMLMeterElement) {
    this.#events = events;
    this.#meterElement = meterElement;
  }

  get listening(): boolean {
    return this.#stream !== undefined;
  }

  /** Opens the microphone; must run from a user gesture (browsers require it for audio). */
  async start() {
    const context = await this.#ensureContext();
    this.#stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: true,
        channelCount: 1,
      },
    });
    const source = context.createMediaStreamSource(this.#stream);
    this.#mic = new AudioWorkletNode(context, "mic-processor");
    this.#mic.port.onmessage = (event: MessageEvent<ArrayBuffer>) => {
      this.#seq = (this.#seq + 1) & 0xffff;
      this.#events.sendFrame(
        encodeAudioFrame(AudioFrameKind.CallerPcm16k, this.#seq, new Uint8Array(event.data)),
      );
    };
    source.connect(this.#mic);
  }

  stop() {
    this.#mic?.disconnect();
    this.#mic = undefined;
    for (const track of this.#stream?.getTracks() ?? []) track.stop();
    this.#stream = undefined;
  }

  /** Audio can play: the context exists and runs. Call from a user gesture if possible. */
  async prepare(): Promise<boolean> {
    try {
      await this.#ensureContext();
      return true;
    } catch {
      return false;
    }
  }

  /** One frame of assistant audio (16 kHz PCM16); `replyStart` on a reply's first frame. */
  play(pcm: Uint8Array, replyStart = false) {
    if (!this.#player) return;
    if (replyStart) this.#replyArrivedAt = performance.now();
    const copy = pcm.slice().buffer;
    const input: PlayerInput = { pcm: copy, replyStart };
    this.#player.port.postMessage(input, [copy]);
    this.played += 1;
  }

  /** One frame of the person's voice on a transfer: played as it comes, no reply bookkeeping. */
  playHuman(pcm: Uint8Array) {
    this.play(pcm, false);
  }

  /**
   * Ringback while a transfer rings. It waits while the player sounds, so the assistant's
   * "I'm calling support" is never spoken over the tone, and starts its cadence afresh after.
   */
  setRingback(on: boolean) {
    this.#ringbackWanted = on;
    this.#syncRingback();
  }

  #syncRingback() {
    clearTimeout(this.#ringbackTimer);
    if (!this.#ringbackWanted || this.#playing) return this.#ringback?.stop();
    // The player goes idle for a moment between two sentences of a reply: wait a little, so
    // the tone does not sound in that gap.
    const wait = this.#idleAt + RINGBACK_AFTER_SPEECH_MS - performance.now();
    if (wait <= 0) this.#ringback?.start();
    else this.#ringbackTimer = setTimeout(() => this.#syncRingback(), wait);
  }

  /** The caller spoke over the assistant: silence at once. */
  clear() {
    this.#player?.port.postMessage("clear" satisfies PlayerInput);
  }

  #ensureContext(): Promise<AudioContext> {
    // Once: sign-in and the mic button may both ask for it at the same moment.
    this.#contextReady ??= this.#createContext().catch((error: unknown) => {
      this.#contextReady = undefined;
      throw error;
    });
    return this.#contextReady;
  }

  async #createContext(): Promise<AudioContext> {
    const context = new AudioContext();
    try {
      return await this.#setUp(context);
    } catch (error) {
      // A half-set-up context would keep running beside the next attempt's.
      await context.close().catch(() => undefined);
      throw error;
    }
  }

  async #setUp(context: AudioContext): Promise<AudioContext> {
    await context.audioWorklet.addModule("/audio/mic-processor.js");
    await context.audioWorklet.addModule("/audio/player-processor.js");
    const meter = new OutputMeter(context, this.#meterElement);
    this.#player = new AudioWorkletNode(context, "player-processor", { outputChannelCount: [1] });
    this.#player.port.onmessage = (event: MessageEvent<PlayerReport>) => {
      const report = event.data;
      switch (report.type) {
        case "playing":
        case "idle":
          this.#playing = report.type === "playing";
          if (!this.#playing) this.#idleAt = performance.now();
          this.#syncRingback();
          return this.#events.onPlaying(this.#playing);
        case "reply_started":
          if (this.#replyArrivedAt === undefined) return;
          this.#events.onReplyStarted(Math.round(performance.now() - this.#replyArrivedAt));
          this.#replyArrivedAt = undefined;
          return;
        case "cleared":
          return this.#events.onCleared(report.playedMs);
      }
    };
    this.#player.connect(meter.input);
    await context.resume();
    meter.start();
    this.#ringback = new Ringback(context, meter.input);
    // A transfer may have started ringing before audio could.
    this.#syncRingback();
    return context;
  }
}
