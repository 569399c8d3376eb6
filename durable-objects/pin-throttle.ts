import { DurableObject } from "cloudflare:workers";
import { decideAttempt } from "./attempt-window.ts";

const ATTEMPTS_KEY = "attempts";

/**
 * One object per client IP (`idFromName(ip)`): counts PIN attempts across all of that
 * client's sessions, so opening new sessions does not reset the count. A Durable Object
 * processes one call at a time, so the read-modify-write below never races.
 */
export class PinThrottle extends DurableObject<Env> {
  async tryAttempt(): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    const max = Number(this.env.PIN_THROTTLE_MAX_ATTEMPTS);
    const windowMs = Number(this.env.PIN_THROTTLE_WINDOW_SECONDS) * 1000;
    const previous = this.ctx.storage.kv.get<number[]>(ATTEMPTS_KEY) ?? [];
    const now = Date.now();
    const decision = decideAttempt(previous, now, max, windowMs);
    this.ctx.storage.kv.put(ATTEMPTS_KEY, decision.attempts);
    // Forget this client once its window has passed.
    await this.ctx.storage.setAlarm(now + windowMs);
    return {
      allowed: decision.allowed,
      retryAfterSeconds: Math.ceil(decision.retryAfterMs / 1000),
    };
  }

  override async alarm() {
    const attempts = this.ctx.storage.kv.get<number[]>(ATTEMPTS_KEY) ?? [];
    const windowMs = Number(this.env.PIN_THROTTLE_WINDOW_SECONDS) * 1000;
    if (attempts.every((t) => t <= Date.now() - windowMs)) await this.ctx.storage.deleteAll();
  }
}
