/**
 * The message box under the conversation: Enter sends, Shift+Enter starts a new line, and the
 * box grows with its text. A message that could not be sent stays in the box.
 */
import { query } from "./keypad.ts";

const MAX_HEIGHT_PX = 120;
const PLACEHOLDER = "Type a message…";
/** Typed words cannot reach a person on the phone: while one is on the line, the caller talks. */
const PLACEHOLDER_WITH_PERSON = "On the line: just talk";

export class Composer {
  readonly #box: HTMLTextAreaElement;
  readonly #send: HTMLButtonElement;
  #withPerson = false;

  /** `onSend` returns false when the text could not be sent (it then stays in the box). */
  constructor(form: HTMLFormElement, onSend: (text: string) => boolean) {
    this.#box = query(form, "[data-testid=message]", HTMLTextAreaElement);
    this.#send = query(form, "[data-testid=send]", HTMLButtonElement);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.#box.value.trim();
      if (!text || this.#withPerson || !onSend(text)) return;
      this.#box.value = "";
      this.#box.style.height = "";
    });
    this.#box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    this.#box.addEventListener("input", () => {
      this.#box.style.height = "auto";
      this.#box.style.height = `${Math.min(this.#box.scrollHeight, MAX_HEIGHT_PX)}px`;
    });
  }

  /** `ready`: the session can take a message; `withPerson`: a person is on the line. */
  setState(ready: boolean, withPerson: boolean) {
    this.#withPerson = withPerson;
    this.#send.disabled = !ready || withPerson;
    this.#box.placeholder = withPerson ? PLACEHOLDER_WITH_PERSON : PLACEHOLDER;
  }

  focus() {
    this.#box.focus();
  }
}
