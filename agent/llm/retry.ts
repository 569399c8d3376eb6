/** How the agent retries a failed model call: bounded in attempts and in total time. */
export interface RetryPolicy {
  /** @default 4 */
  maxAttempts: number;
  /** First backoff; each next one triples, with ±25 % jitter. @default 250 */
  baseDelayMs: number;
  /** @default 2500 */
  maxDelayMs: number;
  /** No retry starts once this much time has passed since the turn began. @default 8000 */
  budgetMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 2_500,
  budgetMs: 8_000,
};

/**
 * The wait before attempt `attempt + 1`, or `undefined` when no retry fits: attempts used up,
 * or the wait (the provider's retry-after when it gave one) would overrun the budget.
 */
export function nextRetryDelay(
  attempt: number,
  elapsedMs: number,
  policy: RetryPolicy,
  retryAfterSeconds?: number,
  random: () => number = Math.random,
): number | undefined {
  if (attempt >= policy.maxAttempts) return undefined;
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 3 ** (attempt - 1));
  const jittered = backoff * (0.75 + random() * 0.5);
  const delay =
    retryAfterSeconds !== undefined ? Math.max(jittered, retryAfterSeconds * 1000) : jittered;
  if (elapsedMs + delay > policy.budgetMs) return undefined;
  return Math.round(delay);
}

/** Resolves after `ms`, or at once (without throwing) when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
