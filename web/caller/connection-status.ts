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
  /** The call is over: the closing socket is not news ("Offline" in red read like an error). */
  #ended = false;

  constructor(pill: HTMLElement, banner: HTMLElement) {
    this.#pill = pill;
    this.#banner = banner;
  }

  pill(state: ConnectionState) {
    if (this.#ended) return;
    this.#pill.dataset.state = state;
    const text = this.#pill.querySelector(".pill-text");
    if (text) text.textContent = PILL_TEXT[state];
  }

  /** The call ended: the pill says so, calmly, whatever the socket does next. */
  ended() {
    this.#ended = true;
    this.#pill.dataset.state = "ended";
    const text = this.#pill.querySelector(".pill-text");
    if (text) text.textContent = "Call ended";
    this.#banner.hidden = true;
  }

  /** A new call starts (sign-in again): the pill follows the socket again. */
  restart() {
    this.#ended = false;
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
