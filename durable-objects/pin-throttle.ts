import { DurableObject } from "cloudflare:workers";
import { config } from "../worker/config.ts";
import {
  decideAttempt,
  decideTier,
  type FailureLimit,
  type LimitedAttempt,
  liveFailures,
  type TierDecision,
  tierOpen,
} from "./attempt-window.ts";

const FAILURES_KEY = "failures";
const KNOWN_PREFIX = "known:";
/** The dashboard's login throttle (`tryAttempt`/`refund`). */
const ATTEMPTS_KEY = "attempts";

export interface TierAnswer extends Omit<TierDecision, "expiries"> {
  /** The account has signed in from this bucket within the known-network period. */
  known: boolean;
}

/**
 * One failure counter of the PIN limits (sign-in-limits.ts): one object per address bucket
 * (`pin:ip4:…`, `pin:ip6:…/64`, `pin:ip6:…/48`) and one for the whole service. It also keeps
 * the accounts that signed in from its bucket recently. A Durable Object runs one call at a
 * time and every decision below reads and writes synchronously, with no await in between, so
 * concurrent sign-ins can never slip past a limit.
 */
export class PinThrottle extends DurableObject<Env> {
  /** Before the PIN is looked up: can any PIN pass here now? */
  async gate(policy: FailureLimit): Promise<{ open: boolean; retryAfterMs: number }> {
    const now = Date.now();
    return tierOpen(this.#failures, now, policy, this.#anyKnown(now));
  }

  /**
   * A checked PIN: `userId` when it named an account. A failure (or a refusal) is recorded in
   * the same step as the check.
   */
  async settle(
    policy: FailureLimit,
    attempt: { userId: string | null; trusted: boolean },
    knownForMs?: number,
  ): Promise<TierAnswer> {
    const now = Date.now();
    const known = attempt.userId !== null && this.#isKnown(attempt.userId, now);
    const limited: LimitedAttempt = {
      correct: attempt.userId !== null,
      trusted: attempt.trusted || known,
    };
    const { expiries, ...decision } = decideTier(this.#failures, now, policy, limited);
    if (decision.recorded) this.ctx.storage.kv.put(FAILURES_KEY, expiries);
    // An account already known here stays known while it keeps signing in from here.
    if (known && decision.passed && attempt.userId && knownForMs) {
      this.ctx.storage.kv.put(KNOWN_PREFIX + attempt.userId, now + knownForMs);
    }
    if (decision.recorded) await this.#cleanUpBy(now + policy.windowMs);
    return { ...decision, known };
  }

  /** The account signed in from this bucket. */
  async remember(userId: string, knownForMs: number): Promise<void> {
    const expiry = Date.now() + knownForMs;
    this.ctx.storage.kv.put(KNOWN_PREFIX + userId, expiry);
    await this.#cleanUpBy(expiry);
  }

  get #failures(): number[] {
    return this.ctx.storage.kv.get<number[]>(FAILURES_KEY) ?? [];
  }

  #isKnown(userId: string, now: number): boolean {
    return (this.ctx.storage.kv.get<number>(KNOWN_PREFIX + userId) ?? 0) > now;
  }

  #anyKnown(now: number): boolean {
    for (const [, expiry] of this.ctx.storage.kv.list<number>({ prefix: KNOWN_PREFIX })) {
      if (expiry > now) return true;
    }
    return false;
  }

  /** The alarm forgets what has expired; an alarm already due sooner is kept. */
  async #cleanUpBy(at: number) {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  override async alarm() {
    const now = Date.now();
    const kv = this.ctx.storage.kv;
    const expiries: number[] = [];
    const failures = liveFailures(this.#failures, now);
    kv.put(FAILURES_KEY, failures);
    expiries.push(...failures);
    for (const [key, expiry] of kv.list<number>({ prefix: KNOWN_PREFIX })) {
      if (expiry > now) expiries.push(expiry);
      else kv.delete(key);
    }
    const windowMs = config(this.env).pinThrottleWindowMs;
    const attempts = (kv.get<number[]>(ATTEMPTS_KEY) ?? []).filter((t) => t > now - windowMs);
    kv.put(ATTEMPTS_KEY, attempts);
    expiries.push(...attempts.map((t) => t + windowMs));
    if (expiries.length === 0) return this.ctx.storage.deleteAll();
    await this.ctx.storage.setAlarm(Math.min(...expiries));
  }

  // ---- the dashboard's login throttle ----------------------------------------------------

  /**
   * Counts an attempt before the password is checked; `refund` gives it back after a correct
   * one. (The dashboard's agent logins use this; PIN sign-in counts only failures.)
   */
  async tryAttempt(): Promise<{ allowed: boolean; retryAfterSeconds: number; attempt: number }> {
    const { pinThrottleMaxAttempts: max, pinThrottleWindowMs: windowMs } = config(this.env);
    const previous = this.ctx.storage.kv.get<number[]>(ATTEMPTS_KEY) ?? [];
    // Distinct even within one millisecond, so a refund removes exactly this attempt.
    const now = Math.max(Date.now(), (previous.at(-1) ?? 0) + 0.001);
    const decision = decideAttempt(previous, now, max, windowMs);
    this.ctx.storage.kv.put(ATTEMPTS_KEY, decision.attempts);
    await this.#cleanUpBy(now + windowMs);
    return {
      allowed: decision.allowed,
      retryAfterSeconds: Math.ceil(decision.retryAfterMs / 1000),
      attempt: now,
    };
  }

  async refund(attempt: number): Promise<void> {
    const attempts = this.ctx.storage.kv.get<number[]>(ATTEMPTS_KEY) ?? [];
    this.ctx.storage.kv.put(
      ATTEMPTS_KEY,
      attempts.filter((t) => t !== attempt),
    );
  }
}
