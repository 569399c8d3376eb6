/**
 * The PIN limits beyond the session's own five tries, as trusted systems build them:
 *
 * - Only failures count. A correct PIN never uses up a limit, so fifty callers behind one
 *   office NAT sign in at once, and the check and the record of a failure are one step inside
 *   a Durable Object (pin-throttle.ts), so concurrent guesses cannot overshoot.
 * - Per address (defaults in config.ts): 20 wrong PINs per 15 minutes per IPv4 address or
 *   IPv6 /64, and 100 per IPv6 /48 (client-address.ts).
 * - Per account: sign-in is PIN-only, so a wrong PIN names no account — every wrong guess,
 *   from anywhere, is a guess at every account at once, and an account's risk is the number
 *   of guesses across the whole service over the size of the PIN space. The per-account
 *   failure count is therefore the service-wide one: past 1000 wrong PINs an hour every
 *   account is locked, until the window slides, for sign-ins from networks it has not used.
 * - Past a limit, a correct PIN still passes from a network its account signed in from within
 *   30 days (the server-side form of OWASP's device cookies): an attacker's guesses lock out
 *   neither the callers who sign in there every day nor, during a service-wide lockout, the
 *   account's user, who sees nothing of it. A correct PIN of an account not known there is
 *   refused with exactly the answer, and the same trace in every counter, as a wrong one: the
 *   lockout is no oracle. (Letting every correct PIN past a spent limit would make the limit
 *   an oracle that limits nothing.) A hard ceiling per address (100) bounds what an attacker
 *   sharing that network can try against its known accounts.
 */
import { addressBuckets } from "../worker/client-address.ts";
import type { Config } from "../worker/config.ts";
import type { FailureLimit, TierDecision } from "./attempt-window.ts";
import type { PinThrottle } from "./pin-throttle.ts";

/** Whose limit it is: the caller's network, or the service as a whole. */
export type LimitScope = "network" | "service";

export type Refusal = { kind: "refused"; scope: LimitScope; retryAfterSeconds: number };
export type SignInVerdict =
  | { kind: "signed_in" }
  /** Tries left across these limits (not the session's own), and which limit that is. */
  | { kind: "wrong_pin"; triesLeft: number; limitedBy: LimitScope; retryAfterSeconds: number }
  | Refusal;

export type PinLimitsConfig = Pick<
  Config,
  | "pinThrottleMaxAttempts"
  | "pinThrottleWindowMs"
  | "pinThrottlePrefix48MaxFailures"
  | "pinThrottleHardMaxFailures"
  | "pinGlobalMaxFailures"
  | "pinGlobalWindowMs"
  | "pinKnownNetworkMs"
>;

export interface SignInLimitsOptions {
  throttles: DurableObjectNamespace<PinThrottle>;
  config: PinLimitsConfig;
  /** `cf-connecting-ip`, as the Worker passed it on. */
  clientAddress: string;
  /** The service-wide counter's object name; a test gives its own. */
  globalName?: string;
  /** Work that must finish but not delay the answer (the session's `runBackground`). */
  background: (label: string, work: () => Promise<unknown>) => void;
}

export const GLOBAL_THROTTLE_NAME = "pin:global";

interface Tier {
  scope: LimitScope;
  policy: FailureLimit;
  stub: DurableObjectStub<PinThrottle>;
}

export class SignInLimits {
  /** The address's bucket, for the log. */
  readonly bucket: string;
  readonly #address: Tier;
  /** The /48 (IPv6) and the service: a correct PIN trusted at the address passes them. */
  readonly #wider: Tier[];
  readonly #knownForMs: number;
  readonly #background: SignInLimitsOptions["background"];

  constructor(options: SignInLimitsOptions) {
    const { throttles, config } = options;
    const stub = (name: string) => throttles.get(throttles.idFromName(name));
    const buckets = addressBuckets(options.clientAddress);
    const windowMs = config.pinThrottleWindowMs;
    this.bucket = buckets.address;
    this.#knownForMs = config.pinKnownNetworkMs;
    this.#background = options.background;
    this.#address = {
      scope: "network",
      policy: {
        limit: config.pinThrottleMaxAttempts,
        hardLimit: config.pinThrottleHardMaxFailures,
        windowMs,
      },
      stub: stub(`pin:${buckets.address}`),
    };
    this.#wider = [
      ...(buckets.prefix48
        ? [
            {
              scope: "network" as const,
              policy: { limit: config.pinThrottlePrefix48MaxFailures, windowMs },
              stub: stub(`pin:${buckets.prefix48}`),
            },
          ]
        : []),
      {
        scope: "service",
        policy: { limit: config.pinGlobalMaxFailures, windowMs: config.pinGlobalWindowMs },
        stub: stub(options.globalName ?? GLOBAL_THROTTLE_NAME),
      },
    ];
  }

  /** Before the PIN is looked up: refused when no PIN at all could pass from this address. */
  async gate(): Promise<Refusal | undefined> {
    const { open, retryAfterMs } = await this.#address.stub.gate(this.#address.policy);
    return open ? undefined : refusal("network", retryAfterMs);
  }

  /**
   * The PIN was looked up: `userId` when it named an active account. Every answer that is not
   * a sign-in takes the same steps (the address, then the wider tiers), so not even its timing
   * tells a refused correct PIN from a wrong one.
   */
  async settle(userId: string | null): Promise<SignInVerdict> {
    const address = this.#address;
    const here = await address.stub.settle(
      address.policy,
      { userId, trusted: false },
      this.#knownForMs,
    );
    // Known here: the wider tiers have no ceiling for it, and settle has renewed it.
    if (userId !== null && here.passed && here.known) return { kind: "signed_in" };
    // A wrong PIN, or a correct one refused here: the wider tiers count it as a failure.
    const candidate = userId !== null && here.passed ? userId : null;
    const wider = await Promise.all(
      this.#wider.map(async (tier) => ({
        tier,
        answer: await tier.stub.settle(tier.policy, { userId: candidate, trusted: false }),
      })),
    );
    const answers = [{ tier: address, answer: here }, ...wider];
    if (candidate === null) return combine(answers);
    if (wider.every(({ answer }) => answer.passed)) {
      await address.stub.remember(candidate, this.#knownForMs);
      return { kind: "signed_in" };
    }
    // Refused by a wider tier after the address let it through: the tiers that did now record
    // it as a failure, so every counter ends as a wrong PIN would have left it. After the
    // answer, so that this extra step does not show in its timing.
    const passedBy = answers.filter(({ answer }) => answer.passed).map(({ tier }) => tier);
    this.#background("PIN limits: refused sign-in counted", () => this.#recordFailure(passedBy));
    return combine(answers);
  }

  async #recordFailure(tiers: Tier[]) {
    await Promise.all(
      tiers.map((tier) => tier.stub.settle(tier.policy, { userId: null, trusted: false })),
    );
  }
}

/** One tier's answer, as `combine` reads it. */
export interface TierVerdict {
  tier: { scope: LimitScope };
  answer: Pick<TierDecision, "passed" | "left" | "retryAfterMs">;
}

/**
 * One verdict from the tiers' answers to a PIN that did not sign in: refused if any tier
 * refused it (a network's refusal named first, with the longest wait), otherwise a wrong PIN
 * with the fewest tries any tier has left.
 */
export function combine(answers: TierVerdict[]): SignInVerdict {
  const refused = answers.filter(({ answer }) => !answer.passed);
  if (refused.length > 0) {
    const scope = refused.some(({ tier }) => tier.scope === "network") ? "network" : "service";
    return refusal(scope, Math.max(...refused.map(({ answer }) => answer.retryAfterMs)));
  }
  let tightest: TierVerdict | undefined;
  for (const entry of answers) {
    if (!tightest || entry.answer.left < tightest.answer.left) tightest = entry;
  }
  if (!tightest) throw new Error("combine: no tiers");
  return {
    kind: "wrong_pin",
    triesLeft: tightest.answer.left,
    limitedBy: tightest.tier.scope,
    retryAfterSeconds: Math.ceil(tightest.answer.retryAfterMs / 1000),
  };
}

function refusal(scope: LimitScope, retryAfterMs: number): Refusal {
  return { kind: "refused", scope, retryAfterSeconds: Math.ceil(retryAfterMs / 1000) };
}

// ---- what the caller is told -------------------------------------------------------------

function wait(seconds: number): string {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

/** A PIN refused by a limit, whether it was right or wrong (the two must read the same). */
export function refusalMessage(scope: LimitScope, retryAfterSeconds: number): string {
  return scope === "network"
    ? `Too many wrong PINs from your network. Try again in ${wait(retryAfterSeconds)}.`
    : `Too many wrong PINs have been tried on this service, so sign-in is paused for networks you haven't used recently. Try again in ${wait(retryAfterSeconds)}.`;
}

/** A wrong PIN that used a limit's last try: the next one would be refused. */
export function lastTryMessage(scope: LimitScope, retryAfterSeconds: number): string {
  return scope === "network"
    ? `That PIN didn't match, and that was the last try from your network for now. Try again in ${wait(retryAfterSeconds)}.`
    : `That PIN didn't match, and sign-in is now paused for networks you haven't used recently (too many wrong PINs on this service). Try again in ${wait(retryAfterSeconds)}.`;
}

/** The session's own last try: whether a new session can try again at once depends on the limits. */
export function lockedOutMessage(limits: SignInVerdict): string {
  const next =
    limits.kind === "wrong_pin" && limits.triesLeft === 0
      ? `try again in ${wait(limits.retryAfterSeconds)}`
      : "start a new one to try again";
  return `Too many wrong PINs. This session is closed; ${next}.`;
}
