/**
 * Agents' dashboard passwords: PBKDF2-SHA-256 through WebCrypto with a per-agent salt, stored as
 * `pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64`. WebCrypto only, so the same code runs in workerd
 * (sign-in) and in Node (seeding).
 */
import { fromBase64, timingSafeEqual, toBase64 } from "./bytes.ts";

/**
 * Deployed Workers refuse PBKDF2 above 100 000 iterations (`NotSupportedError`; the local
 * workerd does not enforce it, workerd#1471), so that is both the cost we use and the most a
 * stored hash may ask for.
 */
export const PBKDF2_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;
const PREFIX = "pbkdf2-sha256";

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    HASH_BITS,
  );
  return new Uint8Array(bits);
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS) {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, iterations);
  return `${PREFIX}$${iterations}$${toBase64(salt)}$${toBase64(hash)}`;
}

/** A stored hash for agents without one, so an unknown login costs as much time as a known one. */
const DECOY = `${PREFIX}$${PBKDF2_ITERATIONS}$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=`;

/** True when `password` matches `stored`; a missing or malformed hash never matches. */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const parts = (stored ?? DECOY).split("$");
  const [prefix, iterText, saltText, hashText] = parts;
  const iterations = Number(iterText);
  if (
    parts.length !== 4 ||
    prefix !== PREFIX ||
    !Number.isInteger(iterations) ||
    iterations < 1 ||
    iterations > PBKDF2_ITERATIONS
  ) {
    return false;
  }
  const salt = fromBase64(saltText ?? "");
  const expected = fromBase64(hashText ?? "");
  if (!salt || !expected || expected.length !== HASH_BITS / 8) return false;
  const actual = await derive(password, salt, iterations);
  return stored !== null && timingSafeEqual(actual, expected);
}
