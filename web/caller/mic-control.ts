/**
 * The microphone of a hands-free call. Once signed in the microphone opens by itself (the PIN
 * tap was the gesture browsers want before audio starts), and the button mutes and unmutes it.
 * Where a browser still wants a tap first (after a reload, say), the button reads "Start mic"
 * — and any tap on the page will do. The caller's choice to mute is kept for a reload.
 */
import type { MicState } from "./call-state.ts";
import type { VoiceIO } from "./voice.ts";

/** The button says what pressing it does. */
const LABEL: Record<MicState, string> = {
  on: "Mute",
  muted: "Unmute",
  starting: "Mute",
  "needs-gesture": "Start mic",
  unavailable: "Try mic",
  off: "Mic",
};

/** Said to screen readers when the microphone's state changes. */
const ANNOUNCEMENT: Partial<Record<MicState, string>> = {
  on: "Microphone on: the assistant is listening.",
  muted: "Microphone muted.",
  "needs-gesture": "Press Start mic to talk.",
  unavailable: "The microphone is not available: type your message instead.",
};

export interface MicEvents {
  onState(state: MicState): void;
  announce(text: string): void;
  /** The caller muted (true) or unmuted: remembered for a reload or a reopened tab. */
  onMutedChoice(muted: boolean): void;
  /** The microphone was refused or is missing. */
  onUnavailable(): void;
}

export class MicControl {
  readonly #button: HTMLButtonElement;
  readonly #label: HTMLElement;
  readonly #voice: VoiceIO;
  readonly #events: MicEvents;
  #state: MicState = "off";
  /**
   * The state when the press on the button began. The press is itself the gesture that starts
   * audio, and so the microphone (`retry`), and the click comes only on release: by then a
   * "Start mic" press would read as a "Mute" of the microphone it had just opened.
   */
  #pressedIn: MicState | undefined;

  constructor(button: HTMLButtonElement, voice: VoiceIO, events: MicEvents) {
    this.#button = button;
    this.#label = button.querySelector(".mic-label") ?? button;
    this.#voice = voice;
    this.#events = events;
    button.addEventListener("pointerdown", () => this.#pressBegan());
    button.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") this.#pressBegan();
    });
    for (const type of ["pointercancel", "blur"]) {
      button.addEventListener(type, () => {
        this.#pressedIn = undefined;
      });
    }
    button.addEventListener("click", () => {
      const pressedIn = this.#pressedIn;
      this.#pressedIn = undefined;
      // The press already started the microphone (or is starting it).
      if (pressedIn === "needs-gesture" && this.#state !== "needs-gesture") return;
      this.#toggle();
    });
    this.#show();
  }

  get state(): MicState {
    return this.#state;
  }

  /** Signed in or resumed: the microphone opens, unless the caller had muted it. */
  open(muted: boolean) {
    if (this.#state === "on" || this.#state === "starting") return;
    if (muted) return this.#set("muted");
    void this.#start();
  }

  /** Audio runs now (a tap somewhere on the page): open if that is what it waited for. */
  retry() {
    if (this.#state === "needs-gesture") void this.#start();
  }

  /** The call is over, or this page no longer holds it. */
  close() {
    this.#voice.stop();
    this.#set("off");
  }

  #pressBegan() {
    this.#pressedIn = this.#state;
  }

  #toggle() {
    if (this.#state === "on" || this.#state === "starting") {
      this.#voice.stop();
      this.#events.onMutedChoice(true);
      return this.#set("muted");
    }
    if (this.#state === "off") return;
    this.#events.onMutedChoice(false);
    void this.#start();
  }

  async #start() {
    this.#set("starting");
    try {
      const outcome = await this.#voice.start();
      // "stopped": muted or ended meanwhile, which already set the state.
      if (outcome === "on") this.#set("on");
      else if (outcome === "needs-gesture") this.#set("needs-gesture");
    } catch {
      if (this.#state !== "starting") return;
      this.#set("unavailable");
      this.#events.onUnavailable();
    }
  }

  #set(state: MicState) {
    if (state === this.#state) return;
    this.#state = state;
    this.#show();
    const said = ANNOUNCEMENT[state];
    if (said) this.#events.announce(said);
    this.#events.onState(state);
  }

  #show() {
    this.#button.dataset.state = this.#state;
    this.#button.disabled = this.#state === "off";
    this.#label.textContent = LABEL[this.#state];
  }
}
