/**
 * The page's microphone and speaker: 20 ms frames of 16 kHz PCM from an AudioWorklet to the
 * session socket (joined up to 100 ms while the caller stays quiet, audio/quiet-frames.ts), and the assistant's audio frames (and, on a transfer, the person's) into a
 * playback worklet with a jitter buffer. Echo cancellation and noise suppression are on, so
 * the voice played is not heard back as the caller speaking.
 *
 * The AudioContext runs at the device's own rate and the worklets resample with their own
 * filters (audio/resampler.ts), measured in test/unit/page-resampler.test.ts, rather than
 * asking for a 16 kHz context and trusting each browser's converter.
 *
 * Everything played — the player and the ringback — goes through the output meter to the
 * speakers.
 */
import {
  AudioFrameFlag,
  AudioFrameKind,
  decodeAudioFrame,
  encodeAudioFrame,
} from "../../protocol/audio-frame.ts";
import { OutputMeter } from "./audio/output-meter.ts";
import type { PlayerInput, PlayerReport } from "./audio/player-processor.ts";
import { QuietFrames } from "./audio/quiet-frames.ts";
import { Ringback } from "./audio/ringback.ts";

/** Quiet after the assistant spoke before the ringback starts. */
const RINGBACK_AFTER_SPEECH_MS = 500;
/**
 * How long a context may take to start. Without a user gesture (a reload) browsers keep it
 * suspended and its resume() never settles: past this, the page asks for a tap.
 */
const START_TIMEOUT_MS = 600;

export interface VoiceEvents {
  sendFrame(frame: Uint8Array<ArrayBuffer>): void;
  /** False while every frame must leave at once (a person hears the caller live). */
  quietMayWait(): boolean;
  onPlaying(playing: boolean): void;
  /** A reply started playing, `playoutDelayMs` after its first frame arrived. */
  onReplyStarted(playoutDelayMs: number): void;
  /** Playback was cleared after `playedMs` of the current reply. */
  onCleared(playedMs: number): void;
  /** The caller's own level (RMS, 0–1 of full scale), once per microphone frame. */
  onMicLevel(level: number): void;
  /** Audio started running after it could not (a tap anywhere on the page let it). */
  onAudioRunning(): void;
}

/** What opening the microphone came to ("stopped": stop() was called meanwhile). */
export type MicStart = "on" | "needs-gesture" | "stopped";

export class VoiceIO {
  readonly #events: VoiceEvents;
  readonly #meterElement: HTMLMeterElement;
  #contextReady: Promise<AudioContext> | undefined;
  #context: AudioContext | undefined;
  #stream: MediaStream | undefined;
  #mic: AudioWorkletNode | undefined;
  #player: AudioWorkletNode | undefined;
  /** Counts start() and stop() calls: a start that was overtaken lets its microphone go. */
  #generation = 0;
  #seq = 0;
  #quiet = new QuietFrames();
  #replyArrivedAt: number | undefined;
  #ringback: Ringback | undefined;
  #ringbackWanted = false;
  #ringbackTimer: ReturnType<typeof setTimeout> | undefined;
  /** The player is sounding (the assistant or the person), as it last reported. */
  #playing = false;
  /** When the player last went quiet (performance.now()). */
  #idleAt = -Infinity;
  /** Milliseconds of audio handed to the player (16 kHz PCM16), for the page's own checks. */
  playedMs = 0;

  /** `meterElement`: the speaker level meter (see OutputMeter). */
  constructor(events: VoiceEvents, meterElement: HTMLMeterElement) {
    this.#events = events;
    this.#meterElement = meterElement;
  }

  get listening(): boolean {
    return this.#mic !== undefined;
  }

  /** Audio plays (the context runs). */
  get running(): boolean {
    return this.#context !== undefined && isRunning(this.#context);
  }

  /**
   * Opens the microphone. It is asked for first: browsers allow that without a gesture, and in
   * Firefox a live capture lets audio start. If audio still cannot start, the microphone is let
   * go again and the answer is "needs-gesture". Throws when the microphone is refused or missing.
   */
  async start(): Promise<MicStart> {
    if (this.#mic) return "on";
    // A stop() while this waits (the caller muted at once) wins: nothing is left open.
    const generation = ++this.#generation;
    const current = () => generation === this.#generation;
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: true,
        channelCount: 1,
      },
    });
    if (!current()) return release(stream, "stopped");
    let context: AudioContext;
    try {
      context = await this.#ensureContext();
    } catch (error) {
      release(stream, "stopped");
      throw error;
    }
    if (!(await this.#run(context))) return release(stream, "needs-gesture");
    if (!current() || this.#mic) return release(stream, this.#mic ? "on" : "stopped");
    const source = context.createMediaStreamSource(stream);
    const mic = new AudioWorkletNode(context, "mic-processor");
    const quiet = new QuietFrames();
    this.#quiet = quiet;
    mic.port.onmessage = (event: MessageEvent<ArrayBuffer>) => {
      if (this.#mic !== mic) return;
      const pcm = new Int16Array(event.data);
      const level = rms(pcm);
      this.#events.onMicLevel(level);
      quiet.push(pcm, level, this.#events.quietMayWait(), this.#sendPcm);
    };
    source.connect(mic);
    this.#mic = mic;
    this.#stream = stream;
    return "on";
  }

  /** Closes the microphone (muted, or the call ended); the speaker keeps playing. */
  stop() {
    this.#generation += 1;
    if (this.#mic) this.#quiet.flush(this.#sendPcm);
    this.#mic?.disconnect();
    this.#mic = undefined;
    if (this.#stream) release(this.#stream, "stopped");
    this.#stream = undefined;
    this.#events.onMicLevel(0);
  }

  #sendPcm = (pcm: Int16Array<ArrayBuffer>) => {
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#events.sendFrame(
      encodeAudioFrame(
        AudioFrameKind.CallerPcm16k,
        this.#seq,
        new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength),
      ),
    );
  };

  /** Audio can play: true once the context runs. Call from a user gesture if possible. */
  async prepare(): Promise<boolean> {
    try {
      return await this.#run(await this.#ensureContext());
    } catch {
      return false;
    }
  }

  /** A binary frame from the server: the assistant's voice, or the person's on a transfer. */
  playFrame(frame: Uint8Array) {
    const decoded = decodeAudioFrame(frame);
    if (!decoded.ok) return;
    const { kind, pcm, flags } = decoded.frame;
    // The person on a transfer: played as it comes, with none of a reply's bookkeeping.
    if (kind === AudioFrameKind.HumanPcm16k) return this.play(pcm, false);
    if (kind === AudioFrameKind.AssistantPcm) {
      this.play(pcm, (flags & AudioFrameFlag.ReplyStart) !== 0);
    }
  }

  /** One frame of assistant audio (16 kHz PCM16); `replyStart` on a reply's first frame. */
  play(pcm: Uint8Array, replyStart = false) {
    if (!this.#player) return;
    if (replyStart) this.#replyArrivedAt = performance.now();
    const copy = pcm.slice().buffer;
    const input: PlayerInput = { pcm: copy, replyStart };
    this.#player.port.postMessage(input, [copy]);
    this.playedMs += pcm.byteLength / 32;
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

  /** Starts the context; false if it is still suspended after a while (no gesture yet). */
  async #run(context: AudioContext): Promise<boolean> {
    if (isRunning(context)) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      context.resume().catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, START_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    // Read afresh: resume() changed it meanwhile (TypeScript would keep the narrowing above).
    return isRunning(context);
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
      await this.#setUp(context);
    } catch (error) {
      // A half-set-up context would keep running beside the next attempt's.
      await context.close().catch(() => undefined);
      throw error;
    }
    this.#context = context;
    // Suspended for want of a gesture: the first tap or key anywhere on the page starts it.
    const nudge = () => void context.resume().catch(() => undefined);
    for (const type of ["pointerdown", "keydown"]) addEventListener(type, nudge, true);
    context.addEventListener("statechange", () => {
      if (context.state !== "running") return;
      for (const type of ["pointerdown", "keydown"]) removeEventListener(type, nudge, true);
      this.#events.onAudioRunning();
    });
    return context;
  }

  async #setUp(context: AudioContext) {
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
    meter.start();
    this.#ringback = new Ringback(context, meter.input);
    // A transfer may have started ringing before audio could.
    this.#syncRingback();
  }
}

function isRunning(context: AudioContext): boolean {
  return context.state === "running";
}

/** Lets a microphone go (the browser's recording light goes out); returns `outcome`. */
function release(stream: MediaStream, outcome: MicStart): MicStart {
  for (const track of stream.getTracks()) track.stop();
  return outcome;
}

/** RMS of a frame of PCM16, 0–1 of full scale. */
function rms(pcm: Int16Array): number {
  let sum = 0;
  for (const sample of pcm) sum += sample * sample;
  return Math.sqrt(sum / Math.max(1, pcm.length)) / 32768;
}
