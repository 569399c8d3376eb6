/**
 * Structured logs: one `console.log` (or `.warn` / `.error`) of one plain object per event, the
 * shape Workers Logs indexes field by field:
 *
 *   log.info("call-session", "sign_in", { client: "203.0.113.7" })
 *   → { event: "sign_in", level: "info", scope: "call-session", client: "203.0.113.7" }
 *
 * `log.with({ session })` gives a logger whose every line carries the session id. Call sites
 * pass ids, counts and outcomes — never a request body, a PIN, a token or a key — and this
 * module is the safety net behind that rule: a field whose name looks secret is replaced, an
 * error is reduced to its name and message (without query strings or bound SQL parameters),
 * strings are cut short, and binary data, requests and other non-plain objects are left out.
 *
 * The events of a call, each with `session` (test/workers/logging.test.ts drives them all):
 * `sign_in`, `sign_in_rejected`, `lockout` and `throttle` (with `client`, the address's limit
 * bucket); `resume`, `resume_refused`, `disconnect`, `hang_up`, `session_expired`; `turn` (one
 * per answered turn, typed or spoken, with its latency figures); `tool_call` (`ok`, `ms`);
 * `barge_in`; `provider_retry`, `provider_error` and `provider_recovered` (with `provider`);
 * `transfer_requested` and `transfer_state` (`from`, `to`, `cause`, `outcome`).
 */

export type LogLevel = "info" | "warn" | "error";

/** An event's fields: ids, counts, durations, outcomes. `error` may hold whatever was thrown. */
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  /**
   * `detail` is the event's fields, or — as before structured logs — the error that caused it
   * (anything that is not a plain object is taken for one and logged as `error`).
   */
  info(scope: string, event: string, detail?: LogFields | unknown): void;
  warn(scope: string, event: string, detail?: LogFields | unknown): void;
  error(scope: string, event: string, detail?: LogFields | unknown): void;
  /** A logger that adds `fields` (say, `{ session }`) to every line. */
  with(fields: LogFields): Logger;
}

export const REDACTED = "[redacted]";
const OMITTED = "[omitted]";
/** Long enough for an error message, short enough that no transcript or payload fits. */
const MAX_STRING = 300;
const MAX_ITEMS = 20;
const MAX_DEPTH = 3;
/** Set by the logger itself: a field of the same name cannot change them. */
const RESERVED = new Set(["event", "level", "scope"]);
/**
 * Words that make a field name secret, matched whole after splitting camelCase, snake_case and
 * kebab-case (`pinHash`, `resume_token`, `x-api-key`, `authToken`), so `tokens` or `keyboard`
 * pass but `pin` never does.
 */
const SECRET_WORDS = new Set([
  "pin",
  "pins",
  "token",
  "key",
  "apikey",
  "secret",
  "password",
  "passwd",
  "authorization",
  "auth",
  "cookie",
  "credential",
  "credentials",
  "signature",
]);

/**
 * Field names already judged: the same few dozen come in every line, and splitting a name into
 * words is regular-expression work. Bounded, as a nested object may bring names of any kind.
 */
const judged = new Map<string, boolean>();
const MAX_JUDGED = 512;

export function isSecretName(name: string): boolean {
  let secret = judged.get(name);
  if (secret === undefined) {
    secret = hasSecretWord(name);
    if (judged.size < MAX_JUDGED) judged.set(name, secret);
  }
  return secret;
}

function hasSecretWord(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some((word) => SECRET_WORDS.has(word));
}

/** A URL's query string may carry a token (Twilio's media stream, a signed link): cut it. */
function withoutQueries(text: string): string {
  return text.replace(/\b((?:https?|wss?):\/\/[^\s?#"']*)[?#][^\s"']*/gi, "$1?…");
}

/**
 * An error as `Name: message` (and its cause). Only the name and message — never the stack,
 * bound SQL parameters or a URL's query.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) {
    return typeof error === "string" ? clip(withoutQueries(error)) : "non-error thrown";
  }
  // drizzle's query errors append the bound parameters (a PIN hash, a user's text): cut them.
  const message = withoutQueries(error.message.split("\nparams:")[0] ?? "").slice(0, MAX_STRING);
  const cause = error.cause instanceof Error ? ` (cause: ${describeError(error.cause)})` : "";
  return `${error.name}: ${message}${cause}`;
}

function clip(text: string): string {
  return text.length > MAX_STRING ? `${text.slice(0, MAX_STRING)}…` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function cleanValue(value: unknown, depth: number): unknown {
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string") return clip(withoutQueries(value));
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return describeError(value);
  if (depth >= MAX_DEPTH) return OMITTED;
  if (Array.isArray(value)) {
    return value.slice(0, MAX_ITEMS).map((item) => cleanValue(item, depth + 1) ?? null);
  }
  // Requests, responses, buffers, sockets, class instances: nothing of them is logged.
  if (!isPlainObject(value)) return value === undefined ? undefined : OMITTED;
  return cleanFields(value, depth + 1);
}

function cleanFields(fields: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || typeof value === "function" || typeof value === "symbol") continue;
    if (isSecretName(name)) out[name] = REDACTED;
    else if (name === "error") out[name] = describeError(value);
    else out[name] = cleanValue(value, depth);
  }
  return out;
}

/** The object logged for one event: `event`, `level`, `scope`, then its fields, made safe. */
export function logEntry(
  level: LogLevel,
  scope: string,
  event: string,
  context: LogFields,
  detail: unknown,
): Record<string, unknown> {
  const fields = isPlainObject(detail) ? detail : detail === undefined ? {} : { error: detail };
  const clean = cleanFields({ ...context, ...fields }, 0);
  for (const name of RESERVED) delete clean[name];
  return { event: clip(withoutQueries(event)), level, scope, ...clean };
}

function logger(context: LogFields): Logger {
  const write = (level: LogLevel, scope: string, event: string, detail: unknown) => {
    const entry = logEntry(level, scope, event, context, detail);
    if (level === "error") console.error(entry);
    else if (level === "warn") console.warn(entry);
    else console.log(entry);
  };
  return {
    info: (scope, event, detail) => write("info", scope, event, detail),
    warn: (scope, event, detail) => write("warn", scope, event, detail),
    error: (scope, event, detail) => write("error", scope, event, detail),
    with: (fields) => logger({ ...context, ...fields }),
  };
}

export const log: Logger = logger({});
