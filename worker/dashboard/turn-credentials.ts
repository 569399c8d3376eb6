/**
 * TURN credentials of one agent's own, from a secret the TURN server shares (coturn's
 * `use-auth-secret`, the "TURN REST API" of draft-uberti-behave-turn-rest): the username is
 * `<expiry, Unix seconds>:<login>`, the password base64(HMAC-SHA1(secret, username)). The server
 * checks both with the secret alone, and refuses them after the expiry — so no long-lived TURN
 * password reaches any browser. Written by hand: one HMAC with WebCrypto, which no library
 * needs to wrap.
 */
import { toBase64 } from "./bytes.ts";
import type { IceServer } from "./wire.ts";

export async function turnServer(
  urls: string[],
  secret: string,
  login: string,
  expiresAt: Date,
): Promise<IceServer> {
  const username = `${Math.floor(expiresAt.getTime() / 1000)}:${login}`;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(username));
  return { urls, username, credential: toBase64(new Uint8Array(mac)) };
}
