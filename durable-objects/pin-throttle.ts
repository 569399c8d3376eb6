import { DurableObject } from "cloudflare:workers";
import { config } from "../worker/config.ts";
import { decideAttempt } from "./attempt-window.ts";

const ATTEMPTS_KEY = "attempts";

/**
 * One object per client IP (`idFromName(ip)`): counts PIN attempts across all of that
 * client's sessions, so opening new sessions does not reset the count. A Durable Object
 * processes one call at a time, so the read-modify-write below never races.
 *
 * Every attempt is counted before the PIN is checked (so parallel sessions cannot outrun the
 * limit), and a correct PIN gives its attempt back: people who sign in are never throttled.
 */
export class PinThrottle extends DurableObject<Env> {
  async tryAttempt(): Promise<{ allowed: boolean; retryAfterSeconds: number; attempt: number }> {
    const { pinThrottleMaxAttempts: max, pinThrottleWindowMs: windowMs } = config(this.env);
    const previous = this.ctx.storage.kv.get<number[]>(ATTEMPTS_KEY) ?? [];
    // Distinct even within one millisecond, so a refund removes exactly this attempt.
    const now = Math.max(Date.now(), (previous.at(-1) ?? 0) + 0.001);
    const decision = decideAttempt(previous, now, max, windowMs);
    this.ctx.storage.kv.put(ATTEMPTS_KEY, decision.attempts);
    // Forget this client once its window has passed.
    await this.ctx.storage.setAlarm(now + windowMs);
    return {
      allowed: decision.allowed,
      retryAfterSeconds: Math.ceil(decision.retryAfterMs / 1000),
      attempt: now,
    };
  }

  /** The PIN was right: this attempt does not count against the client. */
  async refund(attempt: number): Promise<void> {
    const attempts = this.ctx.storage.kv.get<number[]>(ATTEMPTS_KEY) ?? [];
    this.ctx.storage.kv.put(
      ATTEMPTS_KEY,
      attempts.filter((t) => t !== attempt),
    );
  }

  override async alarm() {
    const attempts = this.ctx.storage.kv.get<number[]>(ATTEMPTS_KEY) ?? [];
    const windowMs = config(this.env).pinThrottleWindowMs;
    if (attempts.every((t) => t <= Date.now() - windowMs)) await this.ctx.storage.deleteAll();
  }
}
