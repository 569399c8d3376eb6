/**
 * Keyboard shortcuts, off while the agent types in a field: A answers, D declines,
 * H hangs up, M mutes.
 */
import { useEffect, useRef } from "hono/jsx/dom";
import type { PhoneState, Softphone } from "./softphone.ts";

export const SHORTCUTS = { answer: "A", decline: "D", hangUp: "H", mute: "M" } as const;

export function useShortcuts(phone: Softphone, state: PhoneState) {
  const latest = useRef(state);
  latest.current = state;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
      const target = event.target;
      if (
        target instanceof HTMLElement &&
        target.closest("input, textarea, select, [contenteditable]")
      )
        return;
      const phase = latest.current.call?.phase;
      const key = event.key.toUpperCase();
      if (key === SHORTCUTS.answer && phase === "ringing") void phone.answer();
      else if (key === SHORTCUTS.decline && phase === "ringing") phone.reject();
      else if (key === SHORTCUTS.hangUp && phase === "active") phone.hangUp();
      else if (key === SHORTCUTS.mute && phase === "active") phone.toggleMute();
      else return;
      event.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [phone]);
}
