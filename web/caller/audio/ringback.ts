/**
 * The ringback tone a caller hears while a transfer rings: the North American tone, 440 Hz and
 * 480 Hz together, 2 s on and 4 s off, generated in the page.
 *
 * One cadence (tone, then silence) is rendered into a buffer once and looped by an
 * AudioBufferSourceNode: the loop runs sample-exactly on the audio thread, so a throttled
 * background tab cannot stretch the cadence the way a timer would.
 */
const FREQUENCIES_HZ = [440, 480];
const ON_SECONDS = 2;
const CYCLE_SECONDS = 6;
/**
 * Peak of each tone, as a share of full scale: about -22 dBFS, the -19 dBm0 per tone of the
 * telephone ringback, so it is heard but never louder than a voice.
 */
const TONE_LEVEL = 0.08;
/** Fade in and out of each burst, so it starts and stops without a click. */
const RAMP_SECONDS = 0.015;

export class Ringback {
  readonly #context: BaseAudioContext;
  readonly #output: AudioNode;
  #cadence: AudioBuffer | undefined;
  #source: AudioBufferSourceNode | undefined;

  constructor(context: BaseAudioContext, output: AudioNode) {
    this.#context = context;
    this.#output = output;
  }

  get playing(): boolean {
    return this.#source !== undefined;
  }

  /** Starts the cadence with its tone; a no-op while it already plays. */
  start() {
    if (this.#source) return;
    this.#cadence ??= renderCadence(this.#context.sampleRate);
    const source = new AudioBufferSourceNode(this.#context, { buffer: this.#cadence, loop: true });
    source.connect(this.#output);
    source.start();
    this.#source = source;
  }

  stop() {
    const source = this.#source;
    this.#source = undefined;
    if (!source) return;
    source.stop();
    source.disconnect();
  }
}

/** One cycle of the cadence: the two tones with soft edges, then silence. */
export function renderCadence(sampleRate: number): AudioBuffer {
  const buffer = new AudioBuffer({
    numberOfChannels: 1,
    length: Math.round(CYCLE_SECONDS * sampleRate),
    sampleRate,
  });
  const samples = buffer.getChannelData(0);
  const on = Math.round(ON_SECONDS * sampleRate);
  const ramp = Math.round(RAMP_SECONDS * sampleRate);
  for (let i = 0; i < on; i++) {
    const edge = Math.min(1, i / ramp, (on - 1 - i) / ramp);
    let sample = 0;
    for (const hz of FREQUENCIES_HZ) sample += Math.sin((2 * Math.PI * hz * i) / sampleRate);
    samples[i] = sample * TONE_LEVEL * edge;
  }
  return buffer;
}
