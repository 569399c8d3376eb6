/**
 * The conversation panel: caller and assistant bubbles (the assistant's streaming in as it is
 * written), brief tool activity, and notes that are not anyone speaking.
 */
import type { ServerMessageOf, TranscriptEntry } from "../../protocol/messages.ts";

const TIME = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });

export class TranscriptView {
  readonly #list: HTMLOListElement;
  readonly #streaming = new Map<string, HTMLLIElement>();
  readonly #tools = new Map<string, HTMLLIElement>();

  constructor(list: HTMLOListElement) {
    this.#list = list;
    this.#showEmpty();
  }

  reset(entries: TranscriptEntry[]) {
    this.#list.replaceChildren();
    this.#streaming.clear();
    this.#tools.clear();
    for (const entry of entries) this.entry(entry);
    if (entries.length === 0) this.#showEmpty();
  }

  entry(entry: TranscriptEntry) {
    // A system entry is not anyone speaking: shown as a note, not a bubble.
    const item = this.#item(
      entry.role === "system" ? "note system" : `bubble ${entry.role}`,
      entry.text,
    );
    item.dataset.role = entry.role;
    item.dataset.id = entry.id;
    item.title = TIME.format(entry.at);
    this.#append(item);
  }

  delta(turnId: string, delta: string) {
    let item = this.#streaming.get(turnId);
    if (!item) {
      item = this.#item("bubble assistant streaming", "");
      item.dataset.role = "assistant";
      item.dataset.id = turnId;
      // Read out once complete, not word by word.
      item.setAttribute("aria-busy", "true");
      this.#streaming.set(turnId, item);
      this.#append(item);
    }
    item.textContent = (item.textContent ?? "") + delta;
    this.#scroll();
  }

  done(message: ServerMessageOf<"assistant_done">) {
    const item = this.#streaming.get(message.turnId);
    this.#streaming.delete(message.turnId);
    if (!message.entry.text && !item) return;
    const bubble = item ?? this.#item("bubble assistant", "");
    bubble.classList.remove("streaming");
    bubble.removeAttribute("aria-busy");
    bubble.dataset.role = "assistant";
    bubble.title = TIME.format(message.entry.at);
    bubble.textContent = message.entry.text;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = message.interrupted
      ? "interrupted"
      : message.metrics.firstTextMs !== null
        ? `first words in ${message.metrics.firstTextMs} ms`
        : "";
    if (meta.textContent) bubble.append(meta);
    if (!item) this.#append(bubble);
  }

  tool(message: ServerMessageOf<"tool_activity">) {
    const key = `${message.turnId}:${message.tool}`;
    let item = this.#tools.get(key);
    if (!item) {
      item = this.#item("note tool pending", "");
      item.dataset.testid = "tool-activity";
      this.#tools.set(key, item);
      this.#append(item);
    }
    item.classList.toggle("pending", message.status === "started");
    item.classList.toggle("failed", message.status === "failed");
    item.textContent =
      message.status === "started"
        ? `Working on it (${message.tool.replaceAll("_", " ")})…`
        : (message.text ??
          (message.status === "done" ? "Done" : `Couldn't ${message.tool.replaceAll("_", " ")}`));
    if (message.status !== "started") this.#tools.delete(key);
  }

  /** Voice: how long from the end of the caller's words to the assistant's first audio. */
  /** Something that is not anyone speaking (a notice, an error): plain, never a bubble. */
  note(text: string, level: "info" | "warning") {
    const item = this.#item(`note ${level}`, text);
    item.dataset.testid = "notice";
    this.#append(item);
  }

  #item(className: string, text: string): HTMLLIElement {
    const item = document.createElement("li");
    item.className = className;
    item.textContent = text;
    return item;
  }

  #append(item: HTMLLIElement) {
    this.#list.querySelector(".empty")?.remove();
    this.#list.append(item);
    this.#scroll();
  }

  #showEmpty() {
    const empty = this.#item(
      "empty",
      "Ask your assistant anything: tap the mic to talk, or type below.",
    );
    this.#list.append(empty);
  }

  #scroll() {
    this.#list.scrollTop = this.#list.scrollHeight;
  }
}
