/**
 * The conversation under the call: caller and assistant bubbles (the assistant's streaming in
 * as it is written, with the tools it used inside), and notes that are not anyone speaking.
 * It keeps to the newest message while the caller is there — after a resume too — unless they
 * scrolled up to read.
 */
import type { ServerMessageOf, TranscriptEntry } from "../../protocol/messages.ts";
import {
  appendText,
  markInterrupted,
  newBubble,
  setText,
  showDetails,
  showTool,
  showTools,
  timeOf,
  toolShown,
} from "./reply-bubble.ts";

/** Within this distance of the end, the list follows new messages. */
const FOLLOW_PX = 48;

export class TranscriptView {
  readonly #list: HTMLOListElement;
  readonly #replies = new Map<string, HTMLLIElement>();
  /** Voice turn ids (voice_metrics) → the reply they timed. */
  readonly #voiceTurns = new Map<string, HTMLLIElement>();
  #streaming: HTMLLIElement | undefined;
  #follow = true;
  /** Where the list was last put at its end. */
  #pinnedTop = 0;

  constructor(list: HTMLOListElement) {
    this.#list = list;
    list.addEventListener("scroll", () => {
      if (list.scrollHeight - list.scrollTop - list.clientHeight <= FOLLOW_PX) this.#follow = true;
      // Only the caller scrolls up. (Content that grew since the list was put at its end is no
      // reason to stop following: the scroll event may come after the next words arrived.)
      else if (list.scrollTop < this.#pinnedTop - 2) this.#follow = false;
    });
    // The list changes size (the page is laid out, a keyboard opens, a banner shows): it stays
    // at the newest message if it was there.
    new ResizeObserver(() => this.#keepUp()).observe(list);
    this.#showEmpty();
  }

  reset(entries: TranscriptEntry[]) {
    this.#list.replaceChildren();
    this.#replies.clear();
    this.#voiceTurns.clear();
    this.#streaming = undefined;
    for (const entry of entries) this.entry(entry);
    if (entries.length === 0) this.#showEmpty();
    this.scrollToEnd();
  }

  entry(entry: TranscriptEntry) {
    const item = newBubble(entry.role, entry.id, entry.at);
    setText(item, entry.text);
    if (entry.tools) showTools(item, entry.tools);
    if (entry.details) {
      markInterrupted(item, entry.details.interrupted);
      showDetails(item, entry.details);
    }
    if (entry.role === "assistant") this.#replies.set(entry.id, item);
    // The caller's own words always bring the list back to the end.
    this.#append(item, entry.role === "user");
  }

  delta(turnId: string, delta: string) {
    appendText(this.#reply(turnId), delta);
    this.#keepUp();
  }

  tool(message: ServerMessageOf<"tool_activity">) {
    // Not a line of its own (a transfer): no empty bubble for it either.
    if (!toolShown(message.tool, message.status)) return;
    showTool(this.#reply(message.turnId), message.tool, message.status, message.text);
    this.#keepUp();
  }

  done(message: ServerMessageOf<"assistant_done">) {
    const { entry } = message;
    const existing = this.#replies.get(message.turnId);
    if (!existing && !entry.text && !entry.tools) return;
    const bubble = existing ?? this.#reply(message.turnId);
    bubble.classList.remove("streaming");
    bubble.removeAttribute("aria-busy");
    bubble.title = timeOf(entry.at);
    // The server's text is the one kept: cut to what was heard if the caller spoke over it.
    setText(bubble, entry.text);
    markInterrupted(bubble, message.interrupted);
    showDetails(bubble, entry.details ?? { ...message.metrics, interrupted: message.interrupted });
    if (this.#streaming === bubble) this.#streaming = undefined;
    this.#keepUp();
  }

  /** A reply cut off by the caller, now with what they really heard (the page's report). */
  revise(turnId: string, text: string) {
    const bubble = this.#replies.get(turnId);
    if (!bubble) return;
    setText(bubble, text);
    this.#keepUp();
  }

  /** A spoken reply's timings: they belong to the reply being written or the last one. */
  voiceMetrics(message: ServerMessageOf<"voice_metrics">) {
    const { type: _type, turnId, ...voice } = message;
    let bubble = this.#voiceTurns.get(turnId);
    if (!bubble) {
      bubble = this.#streaming ?? lastOf(this.#list, "li.bubble.assistant");
      if (!bubble) return;
      this.#voiceTurns.set(turnId, bubble);
    }
    showDetails(bubble, { voice });
  }

  /** Something that is not anyone speaking (a notice, an error): plain, never a bubble. */
  note(text: string, level: "info" | "warning") {
    const item = document.createElement("li");
    item.className = `note ${level}`;
    item.dataset.testid = "notice";
    item.textContent = text;
    this.#append(item, false);
  }

  /** Something in the bubbles changed size (details shown): stay at the end if there. */
  refit() {
    this.#keepUp();
  }

  /** Shows the newest message (after a resume, once the list is on screen). */
  scrollToEnd() {
    this.#follow = true;
    this.#keepUp();
  }

  /** The reply `turnId`, streaming in: made when its first words or tool arrive. */
  #reply(turnId: string): HTMLLIElement {
    const known = this.#replies.get(turnId);
    if (known) return known;
    const item = newBubble("assistant", turnId, Date.now());
    item.classList.add("streaming");
    // Read out once complete, not word by word.
    item.setAttribute("aria-busy", "true");
    this.#replies.set(turnId, item);
    this.#streaming = item;
    this.#append(item, false);
    return item;
  }

  #append(item: HTMLLIElement, follow: boolean) {
    this.#list.querySelector(".empty")?.remove();
    this.#list.append(item);
    if (follow) this.#follow = true;
    this.#keepUp();
  }

  #keepUp() {
    if (!this.#follow) return;
    this.#list.scrollTop = this.#list.scrollHeight;
    this.#pinnedTop = this.#list.scrollTop;
  }

  #showEmpty() {
    const empty = document.createElement("li");
    empty.className = "empty";
    empty.textContent = "Just talk: your assistant is listening. You can also type below.";
    this.#list.append(empty);
  }
}

function lastOf(list: HTMLElement, selector: string): HTMLLIElement | undefined {
  const all = list.querySelectorAll(selector);
  const last = all[all.length - 1];
  return last instanceof HTMLLIElement ? last : undefined;
}
