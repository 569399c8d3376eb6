/**
 * The system prompt, the same for every turn of a session, and the note of the current time that
 * starts each turn's input, so "tomorrow at 3" resolves against the real now.
 *
 * The time is not in the system prompt: Claude reads a request as tools, system, then messages,
 * and its prompt cache serves a prefix only if every byte before a breakpoint is unchanged. With
 * the time in the system prompt, a new minute changed everything after it, and the conversation
 * could not be cached at all. In the turn's input (kept in the history), it leaves the whole
 * conversation before the turn unchanged, and each turn reads it from the cache
 * (agent/llm/anthropic.ts).
 */

export interface PromptUser {
  name: string;
  timezone: string;
  teams: { name: string; role: string }[];
}

/** Intl formatters are costly to build (about a millisecond each): one set per time zone. */
const formatters = new Map<
  string,
  { local: Intl.DateTimeFormat; offset: Intl.DateTimeFormat; isoDate: Intl.DateTimeFormat }
>();

function formattersFor(timeZone: string) {
  let set = formatters.get(timeZone);
  if (!set) {
    set = {
      local: new Intl.DateTimeFormat("en-GB", {
        timeZone,
        weekday: "long",
        day: "numeric",
        month: "long",
        year: "numeric",
        hour: "numeric",
        minute: "2-digit",
        hour12: true,
      }),
      offset: new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" }),
      isoDate: new Intl.DateTimeFormat("en-CA", { timeZone }),
    };
    formatters.set(timeZone, set);
  }
  return set;
}

type Now = { local: string; offset: string; isoDate: string };

/** The last minute described per time zone: every turn of that minute says the same. */
const described = new Map<string, { minute: number; now: Now }>();

/** "Tuesday, 24 November 2026, 3:05 pm" and "GMT-05:00" for an instant in a time zone. */
export function describeNow(now: Date, timeZone: string): Now {
  // Whole minutes are whole minutes in every time zone (offsets are whole minutes since 1972).
  const minute = Math.floor(now.getTime() / 60_000);
  const last = described.get(timeZone);
  if (last?.minute === minute) return last.now;
  const result = formatNow(now, timeZone);
  described.set(timeZone, { minute, now: result });
  return result;
}

function formatNow(now: Date, timeZone: string): Now {
  const f = formattersFor(timeZone);
  const offset = f.offset.formatToParts(now).find((p) => p.type === "timeZoneName")?.value ?? "GMT";
  return {
    local: f.local.format(now),
    offset: offset === "GMT" ? "GMT+00:00" : offset,
    isoDate: f.isoDate.format(now),
  };
}

/** The system prompt of `user`'s session: the same for every turn. */
export function buildSystemPrompt(user: PromptUser): string {
  const teams = user.teams.length
    ? user.teams.map((t) => `${t.name} (${t.role})`).join(", ")
    : "no teams";
  return `You are Convonet, a voice assistant on a phone call with ${user.name}.
${user.name} belongs to: ${teams}. Their time zone is ${user.timezone}. Each of their turns begins with a <context> note of the current time and date: it tells you when they are speaking, and is not something they said.

How you speak: your words are read aloud. Keep answers short — one or two sentences, one idea at a time. No markdown, no bullet points, no emojis, no URLs. Say dates and times the way people do ("Friday at 3 pm"), never ISO strings. Never read out more than three items; say how many there are and offer the rest.

How you work: use the tools for todos, reminders, calendar events and teams; never invent data. When you pass a time to a tool, write it in ISO 8601 with the caller's UTC offset, worked out from the current date. After a change, confirm it briefly ("Done — 'renew the domain' is due Friday"). Ask before deleting anything. If a tool fails, say so plainly and offer to try again. If something is ambiguous, ask one short question.

Transfers: transfer_to_agent hands this live call to a human. Use it only when the caller asks to speak to a person, and only after they confirm ("Shall I transfer you to support now?"). Moving a todo to someone ("transfer this todo to Sam", "give that to Bob") is NOT a call transfer: reassign the todo instead.

Ending the call: when the caller takes their leave ("goodbye", "that's all, thanks"), say a short, warm goodbye and call end_call. "Done" about a todo ("mark it as done") is not a goodbye.`;
}

/** The note that starts a turn's input: when the caller is speaking, in their time zone. */
export function timeNote(user: Pick<PromptUser, "timezone">, now: Date): string {
  const { local, offset, isoDate } = describeNow(now, user.timezone);
  return `<context>It is now ${local} in ${user.timezone} (UTC offset ${offset.replace("GMT", "")}; today's date is ${isoDate}).</context>`;
}
