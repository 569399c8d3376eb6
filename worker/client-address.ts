/**
 * Client addresses as the PIN limits see them: parsed properly (compressed `::`, an embedded
 * IPv4 tail, IPv4-mapped IPv6, a zone id) and bucketed the way addresses are handed out.
 * An IPv4 address is one host behind one NAT, so it is its own bucket. An IPv6 host picks its
 * own interface id and a subscriber normally gets a whole /64 (often a /48), so exact IPv6
 * addresses would give an attacker 2^64 fresh buckets: the limit keys on the /64, and a wider
 * tier on the /48.
 */

export type ParsedAddress = { version: 4; bytes: Uint8Array } | { version: 6; bytes: Uint8Array };

export interface AddressBuckets {
  /** The bucket of the per-address limit: `ip4:a.b.c.d`, `ip6:x:x:x:x::/64`, or `raw:…`. */
  address: string;
  /** IPv6 only: the /48 the /64 belongs to, for the wider tier. */
  prefix48?: string;
}

const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9a-f]{1,4}$/;

/** A dotted-quad IPv4 address (no leading zeros, which some parsers read as octal). */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    if (!IPV4_PART.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

/** An IPv6 address in any RFC 4291 text form, as its 16 bytes. */
export function parseIpv6(text: string): Uint8Array | undefined {
  let rest = text.toLowerCase();
  const zone = rest.indexOf("%");
  if (zone >= 0) rest = rest.slice(0, zone);
  if (rest.startsWith("[") && rest.endsWith("]")) rest = rest.slice(1, -1);
  const halves = rest.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string | undefined): string[] => (half ? half.split(":") : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  // A trailing dotted quad stands for the last two groups (::ffff:192.0.2.1, 64:ff9b::1.2.3.4).
  const last = (halves.length === 2 ? tail : head).at(-1);
  let v4Tail: Uint8Array | undefined;
  if (last?.includes(".")) {
    v4Tail = parseIpv4(last);
    if (!v4Tail) return undefined;
    (halves.length === 2 ? tail : head).pop();
  }
  const words = [...head, ...tail];
  if (!words.every((w) => IPV6_GROUP.test(w))) return undefined;
  const wordsWanted = v4Tail ? 6 : 8;
  if (halves.length === 2 ? words.length >= wordsWanted : words.length !== wordsWanted) {
    return undefined;
  }
  const bytes = new Uint8Array(16);
  const put = (list: string[], at: number) => {
    for (const [i, word] of list.entries()) {
      const value = Number.parseInt(word, 16);
      bytes[at + 2 * i] = value >> 8;
      bytes[at + 2 * i + 1] = value & 0xff;
    }
  };
  put(head, 0);
  const tailBytes = tail.length * 2 + (v4Tail ? 4 : 0);
  if (halves.length === 2) put(tail, 16 - tailBytes);
  if (v4Tail) bytes.set(v4Tail, 12);
  return bytes;
}

/** IPv4, IPv6, or an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), which is IPv4. */
export function parseAddress(text: string): ParsedAddress | undefined {
  const trimmed = text.trim();
  const v4 = parseIpv4(trimmed);
  if (v4) return { version: 4, bytes: v4 };
  const v6 = parseIpv6(trimmed);
  if (!v6) return undefined;
  const mapped = v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? { version: 4, bytes: v6.slice(12) } : { version: 6, bytes: v6 };
}

/** The first `bits` (a multiple of 16) of an IPv6 address, as `x:x:…::/bits`. */
function ipv6Prefix(bytes: Uint8Array, bits: 48 | 64): string {
  const words: string[] = [];
  for (let i = 0; i < bits / 8; i += 2) {
    words.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  }
  return `${words.join(":")}::/${bits}`;
}

/**
 * The limit buckets of a client address. One that does not parse (absent, or a test's made-up
 * address) is a bucket of its own text: Cloudflare always sets a real `cf-connecting-ip`, and
 * clients cannot set it, so this never gives an attacker a way around the buckets.
 */
export function addressBuckets(text: string): AddressBuckets {
  const parsed = parseAddress(text);
  if (!parsed) return { address: `raw:${text.trim().toLowerCase().slice(0, 64) || "unknown"}` };
  if (parsed.version === 4) return { address: `ip4:${parsed.bytes.join(".")}` };
  return {
    address: `ip6:${ipv6Prefix(parsed.bytes, 64)}`,
    prefix48: `ip6:${ipv6Prefix(parsed.bytes, 48)}`,
  };
}
