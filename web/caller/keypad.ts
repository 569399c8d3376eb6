/**
 * PIN entry: the on-screen keypad and a physical keyboard both feed one visually hidden input;
 * the PIN is shown only as dots and leaves this module only through `onSubmit`.
 */
const MAX_DIGITS = 8;
const MIN_DIGITS = 4;

export type MessageTone = "info" | "warning" | "error";

export class Keypad {
  readonly #root: HTMLElement;
  readonly #form: HTMLFormElement;
  readonly #input: HTMLInputElement;
  readonly #dots: HTMLElement;
  readonly #count: HTMLElement;
  readonly #message: HTMLElement;
  #busy = false;

  constructor(root: HTMLElement, onSubmit: (pin: string) => boolean) {
    this.#root = root;
    this.#form = query(root, "[data-testid=signin-form]", HTMLFormElement);
    this.#input = query(root, "[data-testid=pin-input]", HTMLInputElement);
    this.#dots = query(root, "[data-testid=pin-dots]", HTMLElement);
    this.#count = query(root, "[data-testid=pin-count]", HTMLElement);
    this.#message = query(root, "[data-testid=signin-message]", HTMLElement);

    const submit = () => {
      if (this.#busy) return;
      const pin = this.#input.value;
      if (pin.length < MIN_DIGITS) return this.error(`Enter at least ${MIN_DIGITS} digits.`);
      if (!onSubmit(pin)) {
        return this.message("Not connected yet. Your PIN is kept: try again in a moment.", "error");
      }
      this.#setBusy(true);
      this.message("Checking your PIN…", "info");
    };
    this.#form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit();
    });
    root.addEventListener("click", (event) => {
      const key =
        event.target instanceof Element ? event.target.closest("button")?.dataset.key : undefined;
      if (!key) return;
      if (key === "back") this.#setValue(this.#input.value.slice(0, -1));
      else this.#setValue(this.#input.value + key);
    });
    this.#input.addEventListener("input", () => this.#setValue(this.#input.value));
    this.#input.addEventListener("focus", () => this.#dots.classList.add("focused"));
    this.#input.addEventListener("blur", () => this.#dots.classList.remove("focused"));
    // Typing anywhere on the page goes to the PIN while the keypad is shown, except keys that
    // already mean something where they are typed (in a field; Enter and Space on a button).
    document.addEventListener("keydown", (event) => {
      if (this.#root.hidden || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
      if (target instanceof HTMLButtonElement && (event.key === "Enter" || event.key === " ")) {
        return;
      }
      if (/^\d$/.test(event.key)) this.#setValue(this.#input.value + event.key);
      else if (event.key === "Backspace") this.#setValue(this.#input.value.slice(0, -1));
      else if (event.key === "Enter") submit();
      else return;
      event.preventDefault();
    });
    this.#render();
  }

  get busy(): boolean {
    return this.#busy;
  }

  /** Focuses the PIN field, except on touch screens, where it would pop up their keyboard. */
  focus() {
    if (matchMedia("(pointer: fine)").matches) this.#input.focus({ preventScroll: true });
  }

  /** Shows why the PIN was not accepted and clears it for another try. */
  error(text: string) {
    this.#setBusy(false);
    this.message(text, "error");
    this.#setValue("");
    this.#dots.classList.remove("shake");
    void this.#dots.offsetWidth;
    this.#dots.classList.add("shake");
  }

  message(text: string, tone: MessageTone) {
    this.#message.dataset.tone = tone;
    this.#message.textContent = text;
  }

  /** Ready for a fresh PIN; `text` explains why, if there is a reason to. */
  reset(text = "", tone: MessageTone = "info") {
    this.#setBusy(false);
    this.#setValue("");
    this.message(text, tone);
  }

  #setBusy(busy: boolean) {
    this.#busy = busy;
    this.#root.toggleAttribute("aria-busy", busy);
    for (const button of this.#root.querySelectorAll("button")) button.disabled = busy;
  }

  #setValue(value: string) {
    this.#input.value = value.replace(/\D/g, "").slice(0, MAX_DIGITS);
    this.#render();
  }

  #render() {
    const count = this.#input.value.length;
    const slots = Math.max(MIN_DIGITS, Math.min(MAX_DIGITS, count + (count >= MIN_DIGITS ? 1 : 0)));
    const dots = Array.from({ length: slots }, (_, i) => {
      const dot = document.createElement("span");
      dot.className = i < count ? "slot filled" : "slot";
      dot.setAttribute("aria-hidden", "true");
      return dot;
    });
    this.#count.textContent =
      count === 0 ? "No digits entered" : `${count} digit${count === 1 ? "" : "s"} entered`;
    this.#dots.replaceChildren(this.#count, ...dots);
    this.#dots.dataset.count = String(count);
  }
}

export function query<T extends Element>(root: ParentNode, selector: string, type: new () => T): T {
  const element = root.querySelector(selector);
  if (!(element instanceof type)) throw new Error(`page is missing ${selector}`);
  return element;
}
