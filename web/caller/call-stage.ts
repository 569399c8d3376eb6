/**
 * The centre of the call view: a large indicator of what the call is doing (call-state.ts),
 * its words under it, what the caller is saying as it is recognised, and — while they talk —
 * their own voice's level, which the indicator swells with.
 */
import type { CallView } from "./call-state.ts";
import { query } from "./keypad.ts";

/** The level's scale: nothing below this many dBFS, full at FULL_DB. */
const FLOOR_DB = -55;
const FULL_DB = -12;
/** Smoothing per microphone frame (20 ms): quick to rise, slower to fall, like a VU meter. */
const ATTACK = 0.6;
const RELEASE = 0.15;

export class CallStage {
  readonly #stage: HTMLElement;
  readonly #label: HTMLElement;
  readonly #interim: HTMLElement;
  #level = 0;
  #shownLevel = "";

  constructor(root: HTMLElement) {
    this.#stage = query(root, "[data-testid=stage]", HTMLElement);
    this.#label = query(this.#stage, ".activity-text", HTMLElement);
    this.#interim = query(this.#stage, "[data-testid=interim]", HTMLElement);
  }

  get state(): string {
    return this.#stage.dataset.state ?? "";
  }

  show(view: CallView) {
    if (this.#stage.dataset.state !== view.state) this.#stage.dataset.state = view.state;
    if (this.#label.textContent !== view.label) this.#label.textContent = view.label;
    if (view.state !== "listening") this.micLevel(0);
  }

  /** What the caller is saying, before it is final ("" clears it). */
  interim(text: string) {
    this.#interim.textContent = text;
  }

  /** The caller's level (RMS, 0–1), once per microphone frame. */
  micLevel(rms: number) {
    const db = rms > 0 ? 20 * Math.log10(rms) : FLOOR_DB;
    const target = Math.max(0, Math.min(1, (db - FLOOR_DB) / (FULL_DB - FLOOR_DB)));
    this.#level += (target - this.#level) * (target > this.#level ? ATTACK : RELEASE);
    const shown = (this.#stage.dataset.state === "listening" ? this.#level : 0).toFixed(2);
    if (shown === this.#shownLevel) return;
    this.#shownLevel = shown;
    this.#stage.style.setProperty("--mic-level", shown);
    this.#stage.dataset.micLevel = shown;
  }
}
