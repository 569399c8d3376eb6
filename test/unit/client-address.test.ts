import { describe, expect, it } from "vitest";
import { addressBuckets, parseAddress, parseIpv6 } from "../../worker/client-address.ts";

const hex = (bytes: Uint8Array | undefined) =>
  bytes ? Buffer.from(bytes).toString("hex") : undefined;

describe("parseIpv6", () => {
  it("reads every RFC 4291 text form of the same address alike", () => {
    const full = "20010db8000000000000000000000001";
    for (const text of [
      "2001:db8::1",
      "2001:0db8:0000:0000:0000:0000:0000:0001",
      "2001:DB8:0:0:0:0:0:1",
      "2001:db8:0::0:1",
      "[2001:db8::1]",
      "2001:db8::1%eth0",
    ]) {
      expect(hex(parseIpv6(text)), text).toBe(full);
    }
  });

  it("reads the edges of `::` and a dotted-quad tail", () => {
    expect(hex(parseIpv6("::"))).toBe("0".repeat(32));
    expect(hex(parseIpv6("::1"))).toBe(`${"0".repeat(31)}1`);
    expect(hex(parseIpv6("fe80::"))).toBe(`fe80${"0".repeat(28)}`);
    expect(hex(parseIpv6("1:2:3:4:5:6:7::"))).toBe("00010002000300040005000600070000");
    expect(hex(parseIpv6("::ffff:192.0.2.1"))).toBe(`${"0".repeat(20)}ffffc0000201`);
    expect(hex(parseIpv6("1:2:3:4:5:6:192.0.2.1"))).toBe("000100020003000400050006c0000201");
    expect(hex(parseIpv6("64:ff9b::198.51.100.7"))).toBe(`0064ff9b${"0".repeat(16)}c6336407`);
  });

  it("refuses what is not an IPv6 address", () => {
    for (const text of [
      "",
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8::",
      ":1:2:3:4:5:6:7",
      "12345::",
      "g::1",
      "::1.2.3",
      "::256.0.0.1",
      "1.2.3.4::",
      "1:2:3:4:5:6:7:1.2.3.4",
    ]) {
      expect(parseIpv6(text), text).toBeUndefined();
    }
  });
});

describe("parseAddress", () => {
  it("reads IPv4 as four decimal bytes, without leading zeros", () => {
    expect(parseAddress("192.0.2.1")).toEqual({
      version: 4,
      bytes: new Uint8Array([192, 0, 2, 1]),
    });
    for (const text of ["192.0.2", "192.0.2.256", "192.0.2.01", "192.0.2.1.5", "1e2.0.0.1"]) {
      expect(parseAddress(text), text).toBeUndefined();
    }
  });

  it("takes an IPv4-mapped IPv6 address for the IPv4 address it carries", () => {
    expect(parseAddress("::ffff:192.0.2.1")).toEqual(parseAddress("192.0.2.1"));
    expect(parseAddress("::FFFF:c000:0201")).toEqual(parseAddress("192.0.2.1"));
  });
});

describe("addressBuckets", () => {
  it("keys IPv4 on the exact address, mapped or not", () => {
    expect(addressBuckets("192.0.2.1")).toEqual({ address: "ip4:192.0.2.1" });
    expect(addressBuckets(" ::ffff:192.0.2.1 ")).toEqual({ address: "ip4:192.0.2.1" });
    expect(addressBuckets("192.0.2.2").address).not.toBe(addressBuckets("192.0.2.1").address);
  });

  it("puts every address of one IPv6 /64 in one bucket, and its /48 in a wider one", () => {
    const a = addressBuckets("2001:db8:aa:1:1111:2222:3333:4444");
    expect(a).toEqual({ address: "ip6:2001:db8:aa:1::/64", prefix48: "ip6:2001:db8:aa::/48" });
    // The same /64 in other spellings and with other interface ids.
    for (const text of ["2001:DB8:AA:1::1", "2001:0db8:00aa:0001:ffff::", "2001:db8:aa:1::"]) {
      expect(addressBuckets(text), text).toEqual(a);
    }
    // Another /64 of the same /48: its own address bucket, the same wider one.
    const b = addressBuckets("2001:db8:aa:2::1");
    expect(b.address).not.toBe(a.address);
    expect(b.prefix48).toBe(a.prefix48);
    expect(addressBuckets("2001:db8:ab:1::1").prefix48).not.toBe(a.prefix48);
  });

  it("keeps an address it cannot parse apart, as its own text", () => {
    expect(addressBuckets("unknown")).toEqual({ address: "raw:unknown" });
    expect(addressBuckets("")).toEqual({ address: "raw:unknown" });
    expect(addressBuckets("198.51.0.2.ab12")).toEqual({ address: "raw:198.51.0.2.ab12" });
  });
});
