/**
 * The connection as the caller sees it: the pill in the top bar, and in the call a banner that
 * says why nothing can be sent right now (offline, reconnecting, resuming).
 */
import type { ConnectionState } from "./connection.ts";

const PILL_TEXT: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

export class ConnectionStatus {
  readonly #pill: HTMLElement;
  readonly #banner: HTMLElement;

  constructor(pill: HTMLElement, banner: HTMLElement) {
    this.#pill = pill;
    this.#banner = banner;
  }

  pill(state: ConnectionState) {
    this.#pill.dataset.state = state;
    const text = this.#pill.querySelector(".pill-text");
    if (text) text.textContent = PILL_TEXT[state];
  }

  /** `ready`: the session is live on an open socket. */
  banner(state: ConnectionState, signedIn: boolean, ready: boolean) {
    let text = "";
    if (state === "offline" && signedIn) {
      text = "You're offline. Your call will resume when you're back online.";
    } else if (!ready) {
      text = state === "connected" ? "Resuming your call…" : "Connection lost. Reconnecting…";
    }
    this.#banner.textContent = text;
    this.#banner.hidden = text === "";
  }
}
