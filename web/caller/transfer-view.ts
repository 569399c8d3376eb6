/**
 * The transfer to a person, at the centre of the call view while it lasts: where it stands in
 * the server's own plain words (a polite live region, so screen readers say each change), the
 * department, a Cancel button while it rings that becomes "End call with agent" once the
 * person answers, and how long the call with them has lasted. An ended or failed transfer
 * stays on screen for a few seconds, then gives way to the assistant again.
 */
import type { ServerMessageOf, TransferStateName } from "../../protocol/messages.ts";
import { isActiveState } from "../../transfer/state.ts";
import { query } from "./keypad.ts";

type TransferStatus = ServerMessageOf<"transfer_status">;

/** How long the outcome of a finished transfer stays on screen. */
const LINGER_MS = 6_000;
/** After a resume, how long to wait for the server to re-send the transfer under way. */
const RESTORE_MS = 3_000;

const PHASE: Record<TransferStateName, string> = {
  requested: "Getting ready",
  dialing: "Calling",
  ringing: "Ringing",
  connected: "Connected",
  ended: "Call ended",
  failed: "Not connected",
};

export interface TransferViewEvents {
  /** The caller cancels, or hangs up on the person; false when it could not be sent. */
  cancel(): boolean;
  /** The transfer on screen moved to `state`; undefined when none is shown anymore. */
  onState(state: TransferStateName | undefined): void;
}

export class TransferView {
  readonly #root: HTMLElement;
  readonly #label: HTMLElement;
  readonly #text: HTMLElement;
  readonly #timer: HTMLElement;
  readonly #hint: HTMLElement;
  readonly #button: HTMLButtonElement;
  readonly #events: TransferViewEvents;
  #current: TransferStatus | undefined;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #clock: ReturnType<typeof setInterval> | undefined;
  #connectedAt = 0;
  #micOn = false;

  constructor(root: HTMLElement, events: TransferViewEvents) {
    this.#root = root;
    this.#events = events;
    this.#label = query(root, "[data-testid=transfer-label]", HTMLElement);
    this.#text = query(root, "[data-testid=transfer-text]", HTMLElement);
    this.#timer = query(root, "[data-testid=transfer-timer]", HTMLElement);
    this.#hint = query(root, "[data-testid=transfer-hint]", HTMLElement);
    this.#button = query(root, "[data-testid=transfer-cancel]", HTMLButtonElement);
    this.#button.addEventListener("click", () => {
      // Once: the server's next status says what became of it.
      this.#button.disabled = true;
      if (!this.#events.cancel()) this.#button.disabled = false;
    });
  }

  /** The state on screen, if a transfer is shown. */
  get state(): TransferStateName | undefined {
    return this.#current?.state;
  }

  /** A person is on the line (the page plays their voice, the assistant is silent). */
  get connected(): boolean {
    return this.#current?.state === "connected";
  }

  /** A transfer is being set up or is connected: a person may hear the caller at any moment. */
  get underWay(): boolean {
    return this.#current !== undefined && isActiveState(this.#current.state);
  }

  update(status: TransferStatus) {
    clearTimeout(this.#linger);
    const previous = this.#current;
    const sameTransfer = previous?.transferId === status.transferId;
    this.#current = status;

    this.#root.hidden = false;
    this.#root.dataset.state = status.state;
    this.#label.textContent = `${capitalize(status.department)} · ${PHASE[status.state]}`;
    // Set only when it changes: the live region reads out every change.
    if (this.#text.textContent !== status.text) this.#text.textContent = status.text;

    const connected = status.state === "connected";
    this.#button.hidden = !status.cancellable;
    this.#button.disabled = false;
    this.#button.textContent = connected ? "End call with agent" : "Cancel";
    this.#button.dataset.kind = connected ? "end" : "cancel";

    if (connected && !(sameTransfer && previous?.state === "connected"))
      this.#startClock(status.connectedForMs ?? 0);
    if (!connected) this.#stopClock();
    // A finished transfer keeps the duration it reached; any other shows none.
    if (!connected && status.state !== "ended") this.#timer.hidden = true;
    this.#showHint();

    if (!isActiveState(status.state)) {
      this.#linger = setTimeout(() => this.clear(), LINGER_MS);
    }
    if (previous?.state !== status.state || !sameTransfer) this.#events.onState(status.state);
  }

  /**
   * The session was resumed: its server re-sends the transfer under way, if there still is
   * one. The panel stays as it is meanwhile (no flicker, the ringback goes on), and goes if
   * nothing comes.
   */
  expectRestore() {
    if (!this.#current) return;
    clearTimeout(this.#linger);
    this.#linger = setTimeout(() => this.clear(), RESTORE_MS);
  }

  /** No transfer to show (it is over, or the session is not the one it belonged to). */
  clear() {
    clearTimeout(this.#linger);
    this.#stopClock();
    const had = this.#current !== undefined;
    this.#current = undefined;
    this.#root.hidden = true;
    this.#root.dataset.state = "";
    this.#text.textContent = "";
    this.#timer.hidden = true;
    if (had) this.#events.onState(undefined);
  }

  /** Whether the caller's microphone is on: talking to the person needs it. */
  setMicOn(on: boolean) {
    this.#micOn = on;
    this.#showHint();
  }

  #showHint() {
    this.#hint.hidden = this.#micOn || !this.connected;
  }

  /** `connectedForMs`: how long the call has been connected already (a reload, a resume). */
  #startClock(connectedForMs: number) {
    this.#stopClock();
    this.#connectedAt = Date.now() - connectedForMs;
    this.#timer.hidden = false;
    this.#tick();
    this.#clock = setInterval(() => this.#tick(), 1_000);
  }

  #stopClock() {
    clearInterval(this.#clock);
    this.#clock = undefined;
  }

  #tick() {
    const seconds = Math.floor((Date.now() - this.#connectedAt) / 1000);
    this.#timer.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
