/**
 * Dashboard session tokens: `v1.RANDOM.EXPIRES.MAC`. RANDOM is 32 random bytes; only its SHA-256
 * is stored (agent_sessions), so a leaked table signs no one in; revoking sets `revoked_at`.
 * MAC is an HMAC-SHA256 over the rest with a key derived from PIN_SECRET, so a forged or
 * tampered token and an expired one are refused before any database query.
 */
import { fromBase64Url, sha256Hex, timingSafeEqual, toBase64Url } from "./bytes.ts";

const VERSION = "v1";
const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

/** Its own key (HKDF of PIN_SECRET with a label), so a session MAC is never a PIN hash. */
function macKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"])
      .then((base) =>
        crypto.subtle.deriveKey(
          {
            name: "HKDF",
            hash: "SHA-256",
            salt: new Uint8Array(0),
            info: encoder.encode("convonet agent dashboard session v1"),
          },
          base,
          { name: "HMAC", hash: "SHA-256", length: 256 },
          false,
          ["sign", "verify"],
        ),
      );
    keys.set(secret, key);
  }
  return key;
}

async function mac(secret: string, body: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", await macKey(secret), encoder.encode(body)),
  );
}

export interface IssuedToken {
  token: string;
  /** What agent_sessions stores. */
  tokenHash: string;
  expiresAt: Date;
}

export async function issueToken(
  secret: string,
  lifetimeMs: number,
  now = Date.now(),
): Promise<IssuedToken> {
  const random = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  const expiresAt = new Date(now + lifetimeMs);
  const body = `${VERSION}.${random}.${Math.floor(expiresAt.getTime() / 1000)}`;
  const token = `${body}.${toBase64Url(await mac(secret, body))}`;
  return { token, tokenHash: await sha256Hex(random), expiresAt };
}

/**
 * The stored hash of a well-formed, correctly signed, unexpired token; null otherwise. The
 * database still decides whether the session exists and is not revoked.
 */
export async function checkToken(
  secret: string,
  token: string,
  now = Date.now(),
): Promise<string | null> {
  const parts = token.split(".");
  if (parts.length !== 4) return null;
  const [version, random = "", expires = "", signature = ""] = parts;
  if (version !== VERSION || !/^\d{1,12}$/.test(expires)) return null;
  const given = fromBase64Url(signature);
  const expected = await mac(secret, `${version}.${random}.${expires}`);
  if (!given || !timingSafeEqual(given, expected)) return null;
  if (Number(expires) * 1000 <= now) return null;
  return sha256Hex(random);
}
