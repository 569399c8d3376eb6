/**
 * The ring of an incoming call, made with WebAudio (no audio file to ship): the UK-style
 * double ring, 400 + 450 Hz, 0.4 s on, 0.2 s off, 0.4 s on, 2 s off.
 */
export class Ringtone {
  #context: AudioContext | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  start() {
    if (this.#timer) return;
    this.#context ??= new AudioContext();
    // Resuming needs an earlier user gesture (sign-in counts); without one the ring is silent
    // but the call still shows.
    void this.#context.resume().catch(() => undefined);
    this.#burst();
    this.#timer = setInterval(() => this.#burst(), 3_000);
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = undefined;
    void this.#context?.suspend().catch(() => undefined);
  }

  #burst() {
    const context = this.#context;
    if (!context) return;
    const gain = context.createGain();
    gain.gain.value = 0;
    gain.connect(context.destination);
    const t = context.currentTime;
    for (const start of [0, 0.6]) {
      gain.gain.setTargetAtTime(0.15, t + start, 0.01);
      gain.gain.setTargetAtTime(0, t + start + 0.4, 0.01);
    }
    for (const frequency of [400, 450]) {
      const osc = context.createOscillator();
      osc.frequency.value = frequency;
      osc.connect(gain);
      osc.start(t);
      osc.stop(t + 1.1);
    }
  }
}
