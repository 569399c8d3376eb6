/**
 * The call view's details about the call itself: who is signed in (name, initials, teams).
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
