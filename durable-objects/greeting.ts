/**
 * The greeting, phrased to be heard: the caller's first name, then what is due today — their
 * reminders and next event — the way a person would say it ("Hi Alice — you have a reminder at
 * 3 pm to call the registrar, and Ops stand-up tomorrow at 9 am. What can I do for you?").
 * Never more than three reminders read out.
 */
import { describeNow } from "../agent/system-prompt.ts";
import type { DueToday } from "../worker/db/today.ts";

const ASK = "What can I do for you?";

export function greetingText(
  firstName: string,
  due: DueToday | undefined,
  timeZone: string,
  now: Date,
): string {
  const parts: string[] = [];
  const reminders = due?.reminders ?? [];
  const at = (r: { message: string; remindAt: Date }) =>
    `at ${spokenTime(r.remindAt, timeZone)} to ${asClause(r.message)}`;
  const [first] = reminders;
  if (first && reminders.length === 1) parts.push(`a reminder ${at(first)}`);
  else if (first && reminders.length <= 3) {
    const said = reminders.map(at);
    parts.push(`reminders ${said.slice(0, -1).join(", ")} and ${said.at(-1)}`);
  } else if (first) parts.push(`${reminders.length} reminders today, the first ${at(first)}`);
  const event = due?.nextEvent;
  if (event) {
    const day = isSameLocalDay(event.startsAt, now, timeZone) ? "" : "tomorrow ";
    parts.push(`${event.title.trim()} ${day}at ${spokenTime(event.startsAt, timeZone)}`);
  }
  if (parts.length === 0) return `Hi ${firstName}, ${ASK.charAt(0).toLowerCase()}${ASK.slice(1)}`;
  return `Hi ${firstName} — you have ${parts.join(", and ")}. ${ASK}`;
}

/** "3 pm", "9:30 am" in the caller's zone. */
export function spokenTime(at: Date, timeZone: string): string {
  const text = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hour: "numeric",
    minute: "2-digit",
    hour12: true,
  }).format(at);
  return text
    .replace(":00", "")
    .replace(/\s*([AP])M$/i, (_m, half: string) => ` ${half.toLowerCase()}m`);
}

function isSameLocalDay(a: Date, b: Date, timeZone: string): boolean {
  return describeNow(a, timeZone).isoDate === describeNow(b, timeZone).isoDate;
}

/**
 * "Call the registrar." → "call the registrar": reminders are mostly written as things to do.
 * A leading "to" is not doubled; an acronym or "I" keeps its capital (a name at the start does
 * not — only the page's transcript shows it). A reminder written as a noun ("Dentist") reads
 * stiffly ("to dentist"): the model phrases everything else.
 */
function asClause(message: string): string {
  const text = message
    .trim()
    .replace(/[.!]+$/, "")
    .replace(/^to\s+/i, "");
  return /^[A-Z][a-z]/.test(text) && !/^I\b/.test(text)
    ? text.charAt(0).toLowerCase() + text.slice(1)
    : text;
}
