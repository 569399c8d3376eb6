/**
 * Sliding-window arithmetic of the sign-in limits. Pure, so the limits are tested without a
 * Durable Object around them.
 */

/**
 * A limit on failures in a sliding window. Below `limit` every attempt is looked at; from
 * `limit` on, only a correct PIN of an account that is trusted here passes, until `hardLimit`
 * (absent: no ceiling for trusted accounts). Failures are stored up to `hardLimit ?? limit`:
 * beyond that nobody passes, so counting more would only lengthen the wait.
 */
export interface FailureLimit {
  limit: number;
  windowMs: number;
  hardLimit?: number;
}

export interface LimitedAttempt {
  /** The PIN named an active account. */
  correct: boolean;
  /** That account signed in from this network recently (or a finer tier says so). */
  trusted: boolean;
}

export interface TierDecision {
  /** A correct PIN may sign in; a wrong one may be told it is wrong. */
  passed: boolean;
  /** This attempt was stored as a failure. */
  recorded: boolean;
  /** Expiry times of the failures still in the window, oldest first, after this attempt. */
  expiries: number[];
  /** Wrong PINs this tier will still look at. */
  left: number;
  /** When `left` is 0 or the attempt did not pass: how long until it would. */
  retryAfterMs: number;
}

/** Failures still in the window (expiry after `now`), oldest first. */
export function liveFailures(expiries: readonly number[], now: number): number[] {
  return expiries.filter((e) => e > now).sort((a, b) => a - b);
}

/** How long until fewer than `below` of these failures are left in the window. */
export function waitUntilBelow(live: readonly number[], now: number, below: number): number {
  if (live.length < below) return 0;
  // The (n - below + 1)-th oldest must expire.
  const expiry = live[live.length - below] ?? now;
  return Math.max(0, expiry - now);
}

/**
 * One tier's answer to one checked PIN. A wrong PIN and a correct PIN this tier refuses leave
 * exactly the same trace (both are stored as failures), so nothing later seen of the tier — its
 * tries left, its wait — tells an attacker which of the two a refused guess was.
 */
export function decideTier(
  expiries: readonly number[],
  now: number,
  policy: FailureLimit,
  attempt: LimitedAttempt,
): TierDecision {
  const live = liveFailures(expiries, now);
  const ceiling = policy.hardLimit ?? Number.POSITIVE_INFINITY;
  const room = live.length < policy.limit;
  if (attempt.correct && (room || (attempt.trusted && live.length < ceiling))) {
    return {
      passed: true,
      recorded: false,
      expiries: live,
      left: Math.max(0, policy.limit - live.length),
      retryAfterMs: 0,
    };
  }
  const recorded = live.length < (policy.hardLimit ?? policy.limit);
  const next = recorded ? [...live, now + policy.windowMs] : live;
  const left = Math.max(0, policy.limit - next.length);
  const passed = !attempt.correct && room;
  const waitFor = attempt.correct && attempt.trusted ? ceiling : policy.limit;
  return {
    passed,
    recorded,
    expiries: next,
    left,
    retryAfterMs: passed && left > 0 ? 0 : waitUntilBelow(next, now, waitFor),
  };
}

/**
 * Before a PIN is looked up: can anyone at all pass this tier now? Not when it is over its
 * limit and no account is trusted here, or at its hard ceiling. Saying no before the lookup
 * spares the database, and tells nothing about any PIN.
 */
export function tierOpen(
  expiries: readonly number[],
  now: number,
  policy: FailureLimit,
  anyTrusted: boolean,
): { open: boolean; retryAfterMs: number } {
  const live = liveFailures(expiries, now);
  const ceiling = policy.hardLimit ?? Number.POSITIVE_INFINITY;
  const open = live.length < policy.limit || (anyTrusted && live.length < ceiling);
  return { open, retryAfterMs: open ? 0 : waitUntilBelow(live, now, policy.limit) };
}

// ---- the dashboard's login throttle (every attempt counted, a success refunded) ----------

export interface AttemptDecision {
  allowed: boolean;
  /** Attempt times still inside the window, including this one when allowed. */
  attempts: number[];
  /** When refused: how long until the oldest attempt leaves the window. */
  retryAfterMs: number;
}

/** A sliding-window counter: at most `max` attempts in any `windowMs`. */
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
