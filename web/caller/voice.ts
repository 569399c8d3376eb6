/**
 * The page's microphone and speaker: 20 ms frames of 16 kHz PCM from an AudioWorklet to the
 * session socket, and the assistant's audio frames into a playback worklet with a jitter
 * buffer. Echo cancellation and noise suppression are on, so the assistant's own voice is not
 * heard back as the caller speaking.
 */
import { AudioFrameKind, encodeAudioFrame } from "../../protocol/audio-frame.ts";

export interface VoiceEvents {
  sendFrame(frame: Uint8Array<ArrayBuffer>): void;
  onPlaying(playing: boolean): void;
}

export class VoiceIO {
  readonly #events: VoiceEvents;
  #context: AudioContext | undefined;
  #stream: MediaStream | undefined;
  #mic: AudioWorkletNode | undefined;
  #player: AudioWorkletNode | undefined;
  #seq = 0;
  /** Frames handed to the player, for the page's own checks. */
  played = 0;

  constructor(events: VoiceEvents) {
    this.#events = events;
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

  /** One frame of assistant audio (16 kHz PCM16). */
  play(pcm: Uint8Array) {
    if (!this.#player) return;
    const copy = pcm.slice().buffer;
    this.#player.port.postMessage(copy, [copy]);
    this.played += 1;
  }

  /** The caller spoke over the assistant: silence at once. */
  clear() {
    this.#player?.port.postMessage("clear");
  }

  async #ensureContext(): Promise<AudioContext> {
    if (this.#context) return this.#context;
    const context = new AudioContext();
    await context.audioWorklet.addModule("/audio/mic-processor.js");
    await context.audioWorklet.addModule("/audio/player-processor.js");
    this.#player = new AudioWorkletNode(context, "player-processor", { outputChannelCount: [1] });
    this.#player.port.onmessage = (event: MessageEvent<string>) =>
      this.#events.onPlaying(event.data === "playing");
    this.#player.connect(context.destination);
    await context.resume();
    this.#context = context;
    return context;
  }
}
