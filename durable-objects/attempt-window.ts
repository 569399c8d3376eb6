/**
 * A sliding-window counter: at most `max` attempts in any `windowMs`. Pure, so the limit's
 * arithmetic is tested without a Durable Object around it.
 */
export interface AttemptDecision {
  allowed: boolean;
  /** Attempt times still inside the window, including this one when allowed. */
  attempts: number[];
  /** When refused: how long until the oldest attempt leaves the window. */
  retryAfterMs: number;
}

export function decideAttempt(
  previous: readonly number[],
  now: number,
  max: number,
  windowMs: number,
): AttemptDecision {
  const recent = previous.filter((t) => t > now - windowMs && t <= now);
  if (recent.length >= max) {
    const oldest = Math.min(...recent);
    return { allowed: false, attempts: recent, retryAfterMs: oldest + windowMs - now };
  }
  return { allowed: true, attempts: [...recent, now], retryAfterMs: 0 };
}
