/**
 * Failed dashboard sign-ins are limited per login and per client address, with the PIN's
 * sliding-window counter (PinThrottle, under names of their own). Every attempt is counted
 * before the password is checked, and a correct one gives its attempts back.
 */
export interface LoginAttempt {
  allowed: boolean;
  retryAfterSeconds: number;
  /** Gives the attempt back (after a correct password). */
  refund(): Promise<void>;
}

export async function tryLoginAttempt(env: Env, login: string, ip: string): Promise<LoginAttempt> {
  const stubs = [`agent-login:user:${login.toLowerCase()}`, `agent-login:ip:${ip}`].map((name) =>
    env.PIN_THROTTLE.get(env.PIN_THROTTLE.idFromName(name)),
  );
  const results = await Promise.all(stubs.map((stub) => stub.tryAttempt()));
  return {
    allowed: results.every((r) => r.allowed),
    retryAfterSeconds: Math.max(...results.map((r) => r.retryAfterSeconds)),
    refund: async () => {
      await Promise.all(stubs.map((stub, i) => stub.refund(results[i]?.attempt ?? 0)));
    },
  };
}
