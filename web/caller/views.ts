/**
 * Which card the page shows — connecting or resuming, the keypad, the offer to continue a call
 * left open, the call, or its end — and where the keyboard's focus goes with it.
 */
import { query } from "./keypad.ts";

export type View = "waiting" | "signin" | "offer" | "call" | "ended";

export class Views {
  readonly root: Record<View, HTMLElement>;
  #current: View | "loading" = "loading";
  readonly #focus: Partial<Record<View, () => void>>;

  /** `focus`: where focus goes when a view appears (the keypad's own field, for one). */
  constructor(doc: Document, focus: Partial<Record<View, () => void>> = {}) {
    this.root = {
      waiting: query(doc, "[data-testid=waiting]", HTMLElement),
      signin: query(doc, "[data-testid=signin]", HTMLElement),
      offer: query(doc, "[data-testid=resume-offer]", HTMLElement),
      call: query(doc, "[data-testid=call]", HTMLElement),
      ended: query(doc, "[data-testid=ended]", HTMLElement),
    };
    this.#focus = focus;
  }

  get current(): View | "loading" {
    return this.#current;
  }

  show(next: View) {
    const changed = next !== this.#current;
    this.#current = next;
    document.body.dataset.view = next;
    for (const [name, element] of Object.entries(this.root)) element.hidden = name !== next;
    if (!changed) return;
    this.#focus[next]?.();
  }

  waiting(title: string, text = "") {
    query(this.root.waiting, "[data-testid=waiting-title]", HTMLElement).textContent = title;
    query(this.root.waiting, "[data-testid=waiting-message]", HTMLElement).textContent = text;
    this.show("waiting");
  }

  ended(title: string, text: string) {
    query(this.root.ended, "[data-testid=ended-title]", HTMLElement).textContent = title;
    query(this.root.ended, "[data-testid=ended-message]", HTMLElement).textContent = text;
    this.show("ended");
  }
}

/** Says `text` to screen readers through a polite live region. */
export function announcer(region: HTMLElement): (text: string) => void {
  return (text) => {
    // Cleared first, so the same words said twice are read twice.
    region.textContent = "";
    requestAnimationFrame(() => {
      region.textContent = text;
    });
  };
}

/** For developers: every reply's timings, one click away (remembered in this browser). */
export function timingsSwitch(button: HTMLButtonElement, onChange: () => void) {
  const KEY = "convonet.timings";
  const set = (on: boolean) => {
    button.setAttribute("aria-pressed", String(on));
    document.body.dataset.timings = on ? "on" : "off";
  };
  let on = false;
  try {
    on = localStorage.getItem(KEY) === "on";
  } catch {
    // storage unavailable: off
  }
  set(on);
  button.addEventListener("click", () => {
    on = !on;
    set(on);
    try {
      localStorage.setItem(KEY, on ? "on" : "off");
    } catch {
      // storage unavailable: on for this page only
    }
    onChange();
  });
}
