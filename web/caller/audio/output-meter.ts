/**
 * The speaker level: an AnalyserNode on everything the page plays (the assistant, the person
 * on a transfer, the ringback), shown as a small meter so the caller — and whoever tests the
 * page — can see that sound is really coming out. The meter's element carries the current RMS
 * level (0–1 of full scale) in `data-level`, a few times a second.
 */
const UPDATE_MS = 125;
/** The meter's scale: silence below this many dBFS, full at 0 dBFS. */
const FLOOR_DB = -60;

export class OutputMeter {
  /** Connect what plays to this node; it passes the sound on to the speakers. */
  readonly input: AnalyserNode;
  readonly #element: HTMLMeterElement;
  readonly #samples: Float32Array<ArrayBuffer>;
  #timer: ReturnType<typeof setInterval> | undefined;
  #shown = -1;

  constructor(context: AudioContext, element: HTMLMeterElement) {
    // 2048 samples: about 43 ms at 48 kHz, a little more than a 20 ms frame and its jitter.
    this.input = new AnalyserNode(context, { fftSize: 2048 });
    this.input.connect(context.destination);
    this.#element = element;
    this.#samples = new Float32Array(this.input.fftSize);
  }

  start() {
    this.#timer ??= setInterval(() => this.#update(), UPDATE_MS);
  }

  #update() {
    this.input.getFloatTimeDomainData(this.#samples);
    let sum = 0;
    for (const sample of this.#samples) sum += sample * sample;
    this.#show(Math.sqrt(sum / this.#samples.length));
  }

  #show(rms: number) {
    const level = Math.round(rms * 1000) / 1000;
    if (level === this.#shown) return;
    this.#shown = level;
    const db = level > 0 ? 20 * Math.log10(level) : FLOOR_DB;
    const fill = Math.max(0, Math.min(1, (db - FLOOR_DB) / -FLOOR_DB));
    this.#element.dataset.level = String(level);
    this.#element.value = Math.round(fill * 100);
    // For what else shows the level: the transfer panel's figure glows with the person's voice.
    document.documentElement.style.setProperty("--output-level", fill.toFixed(2));
  }
}
