import { describe, expect, it } from "vitest";
import { mediaMessage, parseMediaMessage } from "../../transfer/media-stream.ts";

const SID = `MZ${"a".repeat(32)}`;

describe("Twilio media-stream messages", () => {
  it("reads a media message (the fast path) as the schema would", () => {
    const parsed = parseMediaMessage(mediaMessage(SID, new Uint8Array([0xff, 0x7f])));
    expect(parsed).toEqual({
      ok: true,
      message: { event: "media", streamSid: SID, media: { payload: "/38=" } },
    });
  });

  it("refuses a media message with a bad stream, a missing or oversized payload", () => {
    const media = (fields: object) => JSON.stringify({ event: "media", ...fields });
    for (const raw of [
      media({ streamSid: "MZ1", media: { payload: "AA==" } }),
      media({ streamSid: SID }),
      media({ streamSid: SID, media: { payload: 5 } }),
      media({ streamSid: SID, media: { payload: "A".repeat(5_000) } }),
      "not json",
      JSON.stringify({ event: "unknown", streamSid: SID }),
    ]) {
      expect(parseMediaMessage(raw).ok).toBe(false);
    }
  });

  it("reads start, mark, dtmf and stop through the schema", () => {
    const start = {
      event: "start",
      sequenceNumber: "1",
      streamSid: SID,
      start: { streamSid: SID, callSid: `CA${"b".repeat(32)}`, customParameters: { token: "t" } },
    };
    expect(parseMediaMessage(JSON.stringify(start))).toMatchObject({ ok: true, message: start });
    for (const message of [
      { event: "mark", streamSid: SID, mark: { name: "m" } },
      { event: "dtmf", streamSid: SID, dtmf: { digit: "5" } },
      { event: "stop", streamSid: SID },
    ]) {
      expect(parseMediaMessage(JSON.stringify(message))).toMatchObject({ ok: true, message });
    }
  });
});
