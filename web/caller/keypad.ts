/**
 * PIN entry: on-screen keypad and physical keyboard both feed one hidden input; the PIN is
 * shown only as dots and never leaves this module except through `onSubmit`.
 */
const MAX_DIGITS = 8;
const MIN_DIGITS = 4;

export class Keypad {
  readonly #root: HTMLElement;
  readonly #input: HTMLInputElement;
  readonly #dots: HTMLElement;
  readonly #message: HTMLElement;
  #busy = false;

  constructor(root: HTMLElement, onSubmit: (pin: string) => void) {
    this.#root = root;
    this.#input = query(root, "[data-testid=pin-input]", HTMLInputElement);
    this.#dots = query(root, "[data-testid=pin-dots]", HTMLElement);
    this.#message = query(root, "[data-testid=signin-message]", HTMLElement);
    const submit = () => {
      const pin = this.#input.value;
      if (this.#busy) return;
      if (pin.length < MIN_DIGITS) return this.error(`Enter at least ${MIN_DIGITS} digits.`);
      this.#setBusy(true);
      this.#message.textContent = "";
      onSubmit(pin);
    };
    root.addEventListener("click", (event) => {
      const key =
        event.target instanceof HTMLElement
          ? event.target.closest("button")?.dataset.key
          : undefined;
      if (!key) return;
      if (key === "enter") submit();
      else if (key === "back") this.#setValue(this.#input.value.slice(0, -1));
      else this.#setValue(this.#input.value + key);
      this.#input.focus({ preventScroll: true });
    });
    this.#input.addEventListener("input", () => this.#setValue(this.#input.value));
    this.#input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") submit();
    });
    // Typing anywhere on the sign-in card goes to the PIN.
    document.addEventListener("keydown", (event) => {
      if (this.#root.hidden || event.target === this.#input) return;
      if (/^\d$/.test(event.key)) this.#setValue(this.#input.value + event.key);
      else if (event.key === "Backspace") this.#setValue(this.#input.value.slice(0, -1));
      else if (event.key === "Enter") submit();
    });
    this.#render();
  }

  focus() {
    this.#input.focus({ preventScroll: true });
  }

  /** Shows why the PIN was not accepted and clears it for another try. */
  error(text: string) {
    this.#setBusy(false);
    this.#message.textContent = text;
    this.#setValue("");
    this.#dots.classList.remove("shake");
    void this.#dots.offsetWidth;
    this.#dots.classList.add("shake");
  }

  info(text: string) {
    this.#setBusy(false);
    this.#message.textContent = text;
  }

  reset() {
    this.#setBusy(false);
    this.#setValue("");
  }

  #setBusy(busy: boolean) {
    this.#busy = busy;
    for (const button of this.#root.querySelectorAll("button")) button.disabled = busy;
  }

  #setValue(value: string) {
    this.#input.value = value.replace(/\D/g, "").slice(0, MAX_DIGITS);
    this.#render();
  }

  #render() {
    const count = this.#input.value.length;
    this.#dots.replaceChildren(
      ...Array.from({ length: count }, () => document.createElement("span")),
    );
    this.#dots.classList.toggle("empty", count === 0);
    this.#dots.setAttribute("aria-label", `${count} digit${count === 1 ? "" : "s"} entered`);
  }
}

export function query<T extends Element>(root: ParentNode, selector: string, type: new () => T): T {
  const element = root.querySelector(selector);
  if (!(element instanceof type)) throw new Error(`page is missing ${selector}`);
  return element;
}
