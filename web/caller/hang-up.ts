/**
 * The End call button. A tap or a click ends the call at once; from the keyboard (Enter or
 * Space, which reach a button focused by Tab without a look at the screen) the first press
 * only asks "Press again to end", for a few seconds. So Tab then Enter never hangs up by
 * accident, and a deliberate second press does.
 */
const ARMED_MS = 4_000;

export class HangUpButton {
  readonly #button: HTMLButtonElement;
  readonly #label: HTMLElement;
  readonly #text: string;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `announce`: said to screen readers (the button's new words are not read out by themselves). */
  constructor(button: HTMLButtonElement, hangUp: () => void, announce: (text: string) => void) {
    this.#button = button;
    this.#label = button.querySelector("span") ?? button;
    this.#text = this.#label.textContent ?? "End call";
    button.addEventListener("click", (event) => {
      // A pointer's click counts its presses; one made by Enter or Space has none.
      const fromKeyboard = event.detail === 0;
      if (fromKeyboard && !this.armed) {
        this.#arm();
        announce("Press again to end the call.");
        return;
      }
      this.disarm();
      hangUp();
    });
    button.addEventListener("blur", () => this.disarm());
    button.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.disarm();
    });
  }

  get armed(): boolean {
    return this.#button.dataset.armed === "true";
  }

  disarm() {
    clearTimeout(this.#timer);
    delete this.#button.dataset.armed;
    this.#label.textContent = this.#text;
  }

  #arm() {
    this.#button.dataset.armed = "true";
    this.#label.textContent = "Press again to end";
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.disarm(), ARMED_MS);
  }
}
