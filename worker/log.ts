/**
 * One-line, prefixed log entries. Only the error's name and message are logged — never
 * request bodies, PINs or tokens; call sites pass nothing that could hold them.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return typeof error === "string" ? error : "non-error thrown";
  // drizzle's query errors append the bound parameters (a PIN hash, a user's text): cut them.
  const message = error.message.split("\nparams:")[0]?.slice(0, 300) ?? "";
  const cause = error.cause instanceof Error ? ` (cause: ${describeError(error.cause)})` : "";
  return `${error.name}: ${message}${cause}`;
}

export const log = {
  info(scope: string, message: string, fields?: Record<string, string | number | boolean>) {
    console.log(`[${scope}] ${message}${fields ? ` ${JSON.stringify(fields)}` : ""}`);
  },
  warn(scope: string, message: string, error?: unknown) {
    console.warn(`[${scope}] ${message}${error === undefined ? "" : `: ${describeError(error)}`}`);
  },
  error(scope: string, message: string, error?: unknown) {
    console.error(`[${scope}] ${message}${error === undefined ? "" : `: ${describeError(error)}`}`);
  },
};
