import { describe, expect, it } from "vitest";
import {
  decodeMulaw,
  decodeMulawSample,
  encodeMulaw,
  encodeMulawSample,
} from "../../voice/audio/mulaw.ts";

/**
 * The G.711 μ-law expansion table for 16-bit linear PCM, code 0x00 first: the well-known
 * `ulaw2linear` values (as in Wireshark's codecs/G711u/G711utable.h), written out here rather
 * than computed so the decoder is checked against the standard, not against itself.
 */
// biome-ignore format: 8 codes a row keeps the table readable against its source
const G711_ULAW_TO_LINEAR = [
  -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956,
  -23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764,
  -15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412,
  -11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316,
  -7932, -7676, -7420, -7164, -6908, -6652, -6396, -6140,
  -5884, -5628, -5372, -5116, -4860, -4604, -4348, -4092,
  -3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004,
  -2876, -2748, -2620, -2492, -2364, -2236, -2108, -1980,
  -1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436,
  -1372, -1308, -1244, -1180, -1116, -1052, -988, -924,
  -876, -844, -812, -780, -748, -716, -684, -652,
  -620, -588, -556, -524, -492, -460, -428, -396,
  -372, -356, -340, -324, -308, -292, -276, -260,
  -244, -228, -212, -196, -180, -164, -148, -132,
  -120, -112, -104, -96, -88, -80, -72, -64,
  -56, -48, -40, -32, -24, -16, -8, 0,
  32124, 31100, 30076, 29052, 28028, 27004, 25980, 24956,
  23932, 22908, 21884, 20860, 19836, 18812, 17788, 16764,
  15996, 15484, 14972, 14460, 13948, 13436, 12924, 12412,
  11900, 11388, 10876, 10364, 9852, 9340, 8828, 8316,
  7932, 7676, 7420, 7164, 6908, 6652, 6396, 6140,
  5884, 5628, 5372, 5116, 4860, 4604, 4348, 4092,
  3900, 3772, 3644, 3516, 3388, 3260, 3132, 3004,
  2876, 2748, 2620, 2492, 2364, 2236, 2108, 1980,
  1884, 1820, 1756, 1692, 1628, 1564, 1500, 1436,
  1372, 1308, 1244, 1180, 1116, 1052, 988, 924,
  876, 844, 812, 780, 748, 716, 684, 652,
  620, 588, 556, 524, 492, 460, 428, 396,
  372, 356, 340, 324, 308, 292, 276, 260,
  244, 228, 212, 196, 180, 164, 148, 132,
  120, 112, 104, 96, 88, 80, 72, 64,
  56, 48, 40, 32, 24, 16, 8, 0,
];

/**
 * [sample, code] from the classic public-domain `linear2ulaw` (Reese and Campbell: bias 0x84,
 * clip 32635, no zero trap), compiled and run: zero, ±1, the clip, full scale, and both sides
 * of every segment boundary (where magnitude + 132 reaches 256, 512, … 16384).
 */
// biome-ignore format: pairs packed several a row; one a line would make 60 lines of it
const REFERENCE_ENCODINGS: [number, number][] = [
  [0, 0xff], [1, 0xff], [-1, 0x7f], [2, 0xff], [-2, 0x7f], [3, 0xff], [-3, 0x7f], [4, 0xfe],
  [-4, 0x7e], [7, 0xfe], [-7, 0x7e], [8, 0xfe], [-8, 0x7e], [15, 0xfd], [16, 0xfd], [-16, 0x7d],
  [123, 0xf0], [124, 0xef], [-123, 0x70], [-124, 0x6f], [131, 0xef], [132, 0xef], [-132, 0x6f],
  [379, 0xe0], [380, 0xdf], [-379, 0x60], [-380, 0x5f], [891, 0xd0], [892, 0xcf], [-891, 0x50],
  [-892, 0x4f], [1915, 0xc0], [1916, 0xbf], [-1915, 0x40], [-1916, 0x3f], [3963, 0xb0],
  [3964, 0xaf], [-3963, 0x30], [-3964, 0x2f], [8059, 0xa0], [8060, 0x9f], [-8059, 0x20],
  [-8060, 0x1f], [16251, 0x90], [16252, 0x8f], [-16251, 0x10], [-16252, 0x0f], [16764, 0x8f],
  [-16764, 0x0f], [32123, 0x80], [32124, 0x80], [-32124, 0x00], [32634, 0x80], [32635, 0x80],
  [32636, 0x80], [-32635, 0x00], [-32636, 0x00], [32767, 0x80], [-32767, 0x00], [-32768, 0x00],
];

/**
 * Σ code(s) · (s + 32769) over every int16 s, from the same compiled reference encoder: one
 * number that pins all 65 536 encodings, so a slip anywhere in the range shows.
 */
const REFERENCE_WEIGHTED_SUM = 255_319_565_321;

describe("μ-law decode", () => {
  it("decodes all 256 codes to the G.711 table", () => {
    expect(G711_ULAW_TO_LINEAR).toHaveLength(256);
    for (let code = 0; code < 256; code++) {
      expect(decodeMulawSample(code), `code 0x${code.toString(16)}`).toBe(
        G711_ULAW_TO_LINEAR[code],
      );
    }
  });

  it("decodes a block, into a given buffer too", () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(Array.from(decodeMulaw(codes))).toEqual(G711_ULAW_TO_LINEAR);
    const out = new Int16Array(300);
    const view = decodeMulaw(codes, out);
    expect(view.buffer).toBe(out.buffer);
    expect(Array.from(view)).toEqual(G711_ULAW_TO_LINEAR);
    expect(() => decodeMulaw(codes, new Int16Array(255))).toThrow(RangeError);
  });
});

describe("μ-law encode", () => {
  it("matches the reference encoder at zero, ±1, full scale and segment boundaries", () => {
    for (const [sample, code] of REFERENCE_ENCODINGS) {
      expect(encodeMulawSample(sample), `sample ${sample}`).toBe(code);
    }
  });

  it("matches the reference encoder over the whole int16 range", () => {
    const all = Int16Array.from({ length: 65_536 }, (_, i) => i - 32_768);
    const codes = encodeMulaw(all);
    let sum = 0;
    for (let i = 0; i < codes.length; i++) sum += (codes[i] ?? 0) * (i + 1);
    expect(sum).toBe(REFERENCE_WEIGHTED_SUM);
  });

  it("round-trips every code but 0x7F, whose value 0 encodes as 0xFF", () => {
    for (let code = 0; code < 256; code++) {
      const expected = code === 0x7f ? 0xff : code;
      expect(encodeMulawSample(decodeMulawSample(code)), `code 0x${code.toString(16)}`).toBe(
        expected,
      );
    }
  });

  it("is monotonic, and within half a step of the input below the clip", () => {
    const misordered: number[] = [];
    const tooFar: number[] = [];
    let previous = Number.NEGATIVE_INFINITY;
    for (let s = -32_768; s <= 32_767; s++) {
      const decoded = decodeMulawSample(encodeMulawSample(s));
      if (decoded < previous) misordered.push(s);
      previous = decoded;
      // Half the top segment's step of 1024; past the clip (±32635) it grows to 32768 − 32124.
      if (Math.abs(decoded - s) > (Math.abs(s) > 32_635 ? 644 : 512)) tooFar.push(s);
    }
    expect(misordered).toEqual([]);
    expect(tooFar).toEqual([]);
  });

  it("encodes a block, into a given buffer too", () => {
    const pcm = Int16Array.from(REFERENCE_ENCODINGS, ([sample]) => sample);
    const expected = REFERENCE_ENCODINGS.map(([, code]) => code);
    expect(Array.from(encodeMulaw(pcm))).toEqual(expected);
    const out = new Uint8Array(pcm.length + 5);
    const view = encodeMulaw(pcm, out);
    expect(view.buffer).toBe(out.buffer);
    expect(Array.from(view)).toEqual(expected);
    expect(() => encodeMulaw(pcm, new Uint8Array(pcm.length - 1))).toThrow(RangeError);
  });
});
