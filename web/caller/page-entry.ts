/**
 * How the page opens, and its buttons outside a call. This tab's own call resumes at once (a
 * reload); a call left open in another tab, or in a tab that was closed, is offered while its
 * resume window lasts — continuing is a tap, which also lets audio start; a new call instead
 * hangs the old one up and goes to the keypad.
 */
import type { SessionConnection } from "./connection.ts";
import type { Keypad } from "./keypad.ts";
import { query } from "./keypad.ts";
import type { CallStore } from "./stored-call.ts";
import type { Views } from "./views.ts";
import type { VoiceIO } from "./voice.ts";

export interface PageEntry {
  views: Views;
  connection: SessionConnection;
  keypad: Keypad;
  voice: VoiceIO;
  store: CallStore;
  /** The page starts over on a new session (after an ended call, or instead of an old one). */
  onRestart(): void;
  signedIn(): boolean;
}

export function openPage(page: PageEntry) {
  const { views, connection, store } = page;
  const resuming = () => views.waiting("Resuming your call…", "Picking up where you left off.");
  const startOver = () => {
    page.onRestart();
    page.keypad.reset();
    views.show("signin");
    connection.restart();
  };
  const button = (view: HTMLElement, id: string, onClick: () => void) =>
    query(view, `[data-testid=${id}]`, HTMLButtonElement).addEventListener("click", onClick);

  button(views.root.ended, "restart", startOver);
  button(views.root.offer, "resume-new", () => {
    // The call left open ends, rather than waiting out its window (a transfer may be ringing).
    connection.endStored();
    startOver();
  });
  button(views.root.offer, "resume-continue", () => {
    // A tap: audio (and so the microphone) may start with the call it continues.
    void page.voice.prepare();
    resuming();
    connection.connect();
  });
  // The window to pick the call up again counts from the moment the page goes away.
  addEventListener("pagehide", () => {
    if (page.signedIn()) store.touch();
  });

  const opening = store.opening();
  if (opening.kind === "offer") return views.show("offer");
  if (opening.kind === "resume") resuming();
  else views.show("signin");
  connection.connect();
}
