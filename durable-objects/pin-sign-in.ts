/**
 * Signing a caller in with their PIN: the limits first (sign-in-limits.ts), then the PIN's hash
 * against Postgres, then the session record; a wrong or refused PIN is answered with what the
 * caller can still do — tries left, how long to wait, or a lockout that closes the socket.
 * The call session lets a caller in (`admit`) once the record is saved.
 */
import type { Config } from "../worker/config.ts";
import type { Database } from "../worker/db/client.ts";
import { findActiveUserByPinHash, recordCallSessionStart } from "../worker/db/users.ts";
import type { Logger } from "../worker/log.ts";
import { hashPin, MIN_PIN_SECRET_LENGTH } from "../worker/pin-hash.ts";
import { CLOSE_CODES, type SessionSockets } from "./session-sockets.ts";
import {
  hashResumeToken,
  newResumeToken,
  type SessionRecord,
  type SessionStore,
} from "./session-store.ts";
import {
  lastTryMessage,
  lockedOutMessage,
  type Refusal,
  refusalMessage,
  SignInLimits,
  type SignInVerdict,
} from "./sign-in-limits.ts";

export interface PinSignInDeps {
  env: Pick<Env, "PIN_SECRET" | "DATABASE_URL" | "PIN_THROTTLE">;
  config: Config;
  sessionId: string;
  store: SessionStore;
  sockets: SessionSockets;
  log: Logger;
  db(): Database;
  background(label: string, work: () => Promise<unknown>): void;
  /** The PIN was right and the session record is saved: the caller is let in. */
  admit(ws: WebSocket, record: SessionRecord, token: string): Promise<void>;
}

export class PinSignIn {
  readonly #deps: PinSignInDeps;
  /** Sockets with a PIN check in flight: a second `sign_in` waits its turn instead of racing. */
  readonly #checking = new WeakSet<WebSocket>();

  constructor(deps: PinSignInDeps) {
    this.#deps = deps;
  }

  /** Checks `pin` from the caller on `ws`, and lets them in or tells them why not. */
  async check(ws: WebSocket, pin: string) {
    const { env, store, sockets, log } = this.#deps;
    if (this.#checking.has(ws)) {
      return sockets.error(ws, "invalid_message", "A sign-in is already being checked.");
    }
    const secret = env.PIN_SECRET;
    if (!secret || secret.length < MIN_PIN_SECRET_LENGTH || !env.DATABASE_URL) {
      log.error("call-session", "sign_in_unconfigured", {
        missing: !env.DATABASE_URL ? "DATABASE_URL" : "PIN_SECRET",
      });
      return sockets.error(ws, "unavailable", "Sign-in is not configured on this server.");
    }
    // A session signs in once.
    if (store.session) {
      return sockets.error(ws, "already_signed_in", "You are already signed in.");
    }
    this.#checking.add(ws);
    try {
      const limits = new SignInLimits({
        throttles: env.PIN_THROTTLE,
        config: this.#deps.config,
        clientAddress: sockets.caller(ws)?.clientIp ?? "unknown",
        background: this.#deps.background,
      });
      const closed = await limits.gate();
      if (closed) return this.#refused(ws, closed, limits.bucket);
      const db = this.#deps.db();
      const user = await findActiveUserByPinHash(db, await hashPin(pin, secret));
      // Settled even if the caller has gone: a guess whose answer was not waited for still counts.
      const verdict = await limits.settle(user?.id ?? null);
      if (ws.readyState !== WebSocket.OPEN) return;
      if (verdict.kind === "refused") return this.#refused(ws, verdict, limits.bucket);
      if (!user || verdict.kind === "wrong_pin") return this.#wrong(ws, verdict, limits.bucket);

      const sessionId = this.#deps.sessionId;
      await recordCallSessionStart(db, sessionId, user.id);
      if (ws.readyState !== WebSocket.OPEN) return;
      const token = newResumeToken();
      const record: SessionRecord = {
        sessionId,
        user: {
          id: user.id,
          name: user.name,
          email: user.email,
          timezone: user.timezone,
          teams: user.teams,
        },
        signedInAt: Date.now(),
        resumeTokenHash: await hashResumeToken(token),
        disconnectedAt: null,
      };
      store.saveSession(record);
      store.failedPins = 0;
      await this.#deps.admit(ws, record, token);
      log.info("call-session", "sign_in", { user: user.id, client: limits.bucket });
    } catch (error) {
      log.error("call-session", "sign_in_failed", error);
      sockets.error(ws, "unavailable", "We could not check your PIN just now. Please try again.");
    } finally {
      this.#checking.delete(ws);
    }
  }

  /** Tries left: the fewer of the session's and the limits' (sign-in-limits.ts). */
  #wrong(ws: WebSocket, limits: SignInVerdict, client: string) {
    const { store, sockets, log } = this.#deps;
    const failed = store.failedPins + 1;
    store.failedPins = failed;
    const left = Math.max(0, this.#deps.config.pinMaxAttemptsPerSession - failed);
    if (left > 0 && limits.kind === "wrong_pin" && limits.triesLeft === 0) {
      log.warn("call-session", "throttle", {
        limit: limits.limitedBy,
        client,
        retryAfterSeconds: limits.retryAfterSeconds,
        wrongAttempts: failed,
      });
      return sockets.error(
        ws,
        "throttled",
        lastTryMessage(limits.limitedBy, limits.retryAfterSeconds),
      );
    }
    if (left > 0) {
      const attemptsLeft = limits.kind === "wrong_pin" ? Math.min(left, limits.triesLeft) : left;
      log.info("call-session", "sign_in_rejected", { client, wrongAttempts: failed, attemptsLeft });
      return sockets.send(ws, {
        type: "pin_rejected",
        message: "That PIN didn't match. Please try again.",
        attemptsLeft,
      });
    }
    log.warn("call-session", "lockout", { client, wrongAttempts: failed });
    sockets.send(ws, {
      type: "session_ended",
      reason: "locked_out",
      message: lockedOutMessage(limits),
    });
    ws.close(CLOSE_CODES.lockedOut, "Too many wrong PINs");
  }

  /** A limit refused the PIN, right or wrong: the caller is told whose limit and how long. */
  #refused(ws: WebSocket, refusal: Refusal, bucket: string) {
    this.#deps.log.warn("call-session", "throttle", {
      limit: refusal.scope,
      client: bucket,
      retryAfterSeconds: refusal.retryAfterSeconds,
    });
    this.#deps.sockets.error(
      ws,
      "throttled",
      refusalMessage(refusal.scope, refusal.retryAfterSeconds),
    );
  }
}
