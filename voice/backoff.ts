/**
 * How long to wait before trying a provider again: exponential, capped, and jittered so that the
 * many sessions that lost Deepgram at the same moment do not all come back in the same instant.
 */
export interface BackoffPolicy {
  /** The wait before the first retry that is not immediate. */
  baseMs: number;
  /** No wait is longer than this. */
  maxMs: number;
}

/**
 * The wait before retry number `retry` (1, 2, …): `baseMs · 2^(retry−1)`, at most `maxMs`, of
 * which half is fixed and half random ("equal jitter": never zero, never above the cap).
 */
export function backoffDelay(
  retry: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
