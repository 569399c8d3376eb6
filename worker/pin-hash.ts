/**
 * PINs are stored as HMAC-SHA256(PIN_SECRET, pin), hex-encoded. WebCrypto only, so the same
 * code runs in workerd (sign-in) and in Node (seeding).
 */
const encoder = new TextEncoder();

const keyCache = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    keyCache.set(secret, key);
  }
  return key;
}

export const MIN_PIN_SECRET_LENGTH = 16;

export async function hashPin(pin: string, secret: string): Promise<string> {
  if (secret.length < MIN_PIN_SECRET_LENGTH) {
    throw new Error(`PIN_SECRET must be at least ${MIN_PIN_SECRET_LENGTH} characters.`);
  }
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(pin));
  return toHex(new Uint8Array(mac));
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}
