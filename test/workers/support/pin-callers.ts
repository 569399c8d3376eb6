/**
 * Callers for the PIN-limit tests: client addresses no other test uses (real ones, so they are
 * bucketed as in production), and an attacker who spends wrong PINs from an address.
 */
import type { ServerMessage } from "../../../protocol/messages.ts";
import { SessionSocket } from "./session-socket.ts";

function randomBits(bits: number): number {
  return (crypto.getRandomValues(new Uint32Array(1))[0] ?? 0) % 2 ** bits;
}

/** A random address in 10.0.0.0/8: 2^24 of them, so no other test draws the same. */
export function uniqueIpv4(): string {
  return `10.${randomBits(8)}.${randomBits(8)}.${randomBits(8)}`;
}

/** A random IPv6 /48 in fd00::/8 (40 random bits), as `fdxx:xxxx:xxxx`. */
export function uniqueIpv6Prefix48(): string {
  const hex = (bits: number) => randomBits(bits).toString(16);
  return `fd${hex(8).padStart(2, "0")}:${hex(16)}:${hex(16)}`;
}

/** A 7-digit PIN: test users have 8 digits, so it is surely wrong. */
export function wrongPin(): string {
  return String(1_000_000 + randomBits(20));
}

/** A socket from `ip` that has had its `hello`, ready for `sign_in`. */
export async function openSignIn(ip: string): Promise<SessionSocket> {
  const socket = await SessionSocket.open({ ip });
  await socket.next("hello");
  return socket;
}

function said(message: ServerMessage): string {
  if (message.type === "pin_rejected" || message.type === "error") return message.message;
  if (message.type === "session_ended") return message.message;
  return JSON.stringify(message);
}

/**
 * Sends `count` wrong PINs from `ip`, four per session (below the session's own lockout), one
 * session after another or all at once; returns what each was answered.
 */
export async function spendWrongPins(
  ip: string | (() => string),
  count: number,
  options: { parallel?: boolean } = {},
): Promise<string[]> {
  const sizes: number[] = [];
  for (let left = count; left > 0; left -= 4) sizes.push(Math.min(4, left));
  const session = async (tries: number) => {
    const socket = await openSignIn(typeof ip === "string" ? ip : ip());
    const answers: string[] = [];
    for (let i = 0; i < tries; i++) {
      socket.send({ type: "sign_in", pin: wrongPin() });
      answers.push(said(await socket.nextAny()));
    }
    socket.close();
    return answers;
  };
  if (options.parallel) return (await Promise.all(sizes.map(session))).flat();
  const answers: string[] = [];
  for (const tries of sizes) answers.push(...(await session(tries)));
  return answers;
}
