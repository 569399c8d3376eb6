/**
 * The call view's details about the call itself: who is signed in (name, initials, teams) and
 * the small latency readout of the last spoken turn.
 */
import type { ServerMessageOf } from "../../protocol/messages.ts";
import { query } from "./keypad.ts";

export function showUser(call: HTMLElement, user: ServerMessageOf<"signed_in">["user"]) {
  query(call, "[data-testid=user-name]", HTMLElement).textContent = user.name;
  const initials = user.name
    .split(/\s+/)
    .filter(Boolean)
    .map((part) => part[0] ?? "")
    .join("")
    .slice(0, 2)
    .toUpperCase();
  query(call, "[data-testid=avatar]", HTMLElement).textContent = initials;
  const teams = query(call, "[data-testid=user-teams]", HTMLUListElement);
  teams.replaceChildren(
    ...user.teams.map((team) => {
      const item = document.createElement("li");
      item.textContent = `${team.name} · ${team.role}`;
      return item;
    }),
  );
  teams.hidden = user.teams.length === 0;
}

/** What the caller waited, and where the time went. */
export function showLatency(latency: HTMLElement, m: ServerMessageOf<"voice_metrics">) {
  const ms = (v: number | null) => (v === null ? "–" : `${v} ms`);
  const total = m.endToEndPlayedMs ?? m.endToEndMs;
  latency.hidden = total === null;
  latency.dataset.turn = m.turnId;
  query(latency, ".latency-total", HTMLElement).textContent =
    `${m.endToEndPlayedMs === null ? "Answered" : "Heard"} in ${ms(total)}${m.speculative ? " (early start)" : ""}`;
  query(latency, ".latency-parts", HTMLElement).textContent = [
    `end of turn ${ms(m.endOfTurnDelayMs)}`,
    `Claude ${ms(m.llmTtftMs)}`,
    `voice ${ms(m.ttsTtfbMs)}`,
    `server ${ms(m.serverAddedMs)}`,
  ].join(" · ");
}
