/**
 * One bubble of the conversation and what an assistant reply carries besides its words: the
 * tools it used (one line each, inside the reply), "interrupted" when the caller spoke over it,
 * and developer details — timings — that stay hidden until asked for (the Timings switch).
 */
import type {
  ReplyDetails,
  ServerMessageOf,
  ToolLine,
  VoiceFigures,
} from "../../protocol/messages.ts";

const TIME = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });

/** The time a bubble shows on hover. */
export function timeOf(at: number): string {
  return TIME.format(at);
}

/** A transfer shows in its own panel (transfer-view.ts): its tool line would say it twice. */
const SHOWN_ELSEWHERE = new Set(["transfer_to_agent"]);

export function newBubble(role: "user" | "assistant" | "system", id: string, at: number) {
  const item = document.createElement("li");
  item.className = role === "system" ? "note system" : `bubble ${role}`;
  item.dataset.role = role;
  item.dataset.id = id;
  item.title = timeOf(at);
  const text = document.createElement("p");
  text.className = "text";
  item.append(text);
  return item;
}

export function setText(bubble: HTMLElement, text: string) {
  part(bubble, "text", "p").textContent = text;
}

export function appendText(bubble: HTMLElement, delta: string) {
  const text = part(bubble, "text", "p");
  text.textContent = (text.textContent ?? "") + delta;
}

type ToolStatus = ServerMessageOf<"tool_activity">["status"];

/** Whether a tool's line belongs in the transcript (a transfer under way has its panel). */
export function toolShown(name: string, status: ToolStatus): boolean {
  return !SHOWN_ELSEWHERE.has(name) || status === "failed";
}

/** Shows a tool's line in its reply: working on it, then what it did (or that it failed). */
export function showTool(bubble: HTMLElement, name: string, status: ToolStatus, text?: string) {
  if (!toolShown(name, status)) return;
  const list = part(bubble, "tools", "ul", true);
  let line = Array.from(list.children).find(
    (child): child is HTMLLIElement =>
      child instanceof HTMLLIElement &&
      child.dataset.tool === name &&
      child.dataset.status === "started",
  );
  if (!line) {
    line = document.createElement("li");
    line.dataset.testid = "tool-activity";
    line.dataset.tool = name;
    list.append(line);
  }
  line.dataset.status = status;
  line.className = `tool ${status}`;
  line.textContent =
    status === "started" ? `${workingOn(name)}…` : (text ?? toolDone(name, status));
}

/** The stored tool lines of a reply, as they were shown while it ran. */
export function showTools(bubble: HTMLElement, tools: readonly ToolLine[]) {
  for (const t of tools) showTool(bubble, t.tool, t.ok ? "done" : "failed", t.text);
}

export function markInterrupted(bubble: HTMLElement, interrupted: boolean) {
  const existing = bubble.querySelector(":scope > .meta");
  if (!interrupted) return existing?.remove();
  part(bubble, "meta", "span").textContent = "interrupted";
}

/** What is known of a reply's timings; voice figures may arrive before or after its end. */
export function showDetails(
  bubble: HTMLElement,
  details: Partial<ReplyDetails> & { voice?: VoiceFigures },
) {
  const known = detailsOf.get(bubble) ?? {};
  const merged = { ...known, ...details };
  detailsOf.set(bubble, merged);
  const element = part(bubble, "details", "p");
  element.dataset.testid = "reply-details";
  element.replaceChildren(
    ...describe(merged).map((text) => line(text, /^(Heard|Answered) in/.test(text))),
  );
}

const detailsOf = new WeakMap<HTMLElement, Partial<ReplyDetails>>();

function describe(d: Partial<ReplyDetails>): string[] {
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? "–" : `${v} ms`);
  const lines: string[] = [];
  const v = d.voice;
  if (v) {
    const total = v.endToEndPlayedMs ?? v.endToEndMs;
    // Spoken without a turn before it (the greeting): no "heard in", only what was measured.
    if (total !== null) {
      lines.push(
        `${v.endToEndPlayedMs === null ? "Answered" : "Heard"} in ${ms(total)}${v.speculative ? " (early start)" : ""}`,
      );
    }
    const parts: [string, number | null][] = [
      ["end of turn", v.endOfTurnDelayMs],
      ["Claude", v.llmTtftMs],
      ["voice", v.ttsTtfbMs],
      ["server", v.serverAddedMs],
    ];
    const known = parts.filter(([, value]) => value !== null);
    if (known.length > 0)
      lines.push(known.map(([name, value]) => `${name} ${ms(value)}`).join(" · "));
  }
  if (d.totalMs !== undefined) {
    lines.push(`first words in ${ms(d.firstTextMs)} · reply done in ${ms(d.totalMs)}`);
  }
  return lines;
}

/** One line of details; `heard` for the figure a caller feels: how long until they heard it. */
function line(text: string, heard: boolean): HTMLSpanElement {
  const span = document.createElement("span");
  if (heard) span.className = "heard";
  span.textContent = text;
  return span;
}

/** The bubble's part of this class, made if missing (tools go first, details last). */
function part(bubble: HTMLElement, className: string, tag: string, first = false): HTMLElement {
  const found = bubble.querySelector(`:scope > .${className}`);
  if (found instanceof HTMLElement) return found;
  const element = document.createElement(tag);
  element.className = className;
  if (first) bubble.prepend(element);
  else bubble.append(element);
  // Details stay last, after the meta.
  const details = bubble.querySelector(":scope > .details");
  if (details && details !== element) bubble.append(details);
  return element;
}

function words(tool: string): string {
  return tool.replaceAll("_", " ");
}

function workingOn(tool: string): string {
  return `Working on it (${words(tool)})`;
}

/** A tool that said nothing of its own: what it looked up, or that it did it. */
function toolDone(tool: string, status: "done" | "failed"): string {
  if (status === "failed") return `Couldn't ${words(tool)}`;
  const lookup = /^list_(.+)$/.exec(tool);
  if (lookup?.[1]) return `Looked up ${words(lookup[1]).replace(/^my /, "your ")}`;
  const text = words(tool);
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}: done`;
}
