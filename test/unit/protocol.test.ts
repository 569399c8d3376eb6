import { describe, expect, it } from "vitest";
import {
  AudioFrameFlag,
  AudioFrameKind,
  CALLER_FRAME_BYTES,
  decodeAudioFrame,
  encodeAudioFrame,
  MAX_AUDIO_PAYLOAD_BYTES,
} from "../../protocol/audio-frame.ts";
import {
  MAX_TEXT_FRAME_CHARS,
  PROTOCOL_VERSION,
  parseClientMessage,
  parseServerMessage,
  type ServerMessage,
} from "../../protocol/messages.ts";

describe("parseClientMessage", () => {
  it("accepts every client message type", () => {
    const valid = [
      { type: "sign_in", pin: "1234" },
      { type: "sign_in", pin: "12345678" },
      { type: "resume", token: "abcdefghijklmnopqrstuvwxyz_-0123456789AB" },
      { type: "user_text", id: "m-1", text: "  add milk  " },
      { type: "ping", t: 1.5 },
      { type: "hang_up" },
    ];
    for (const message of valid) {
      const result = parseClientMessage(JSON.stringify(message));
      expect(result.ok, JSON.stringify(message)).toBe(true);
    }
  });

  it("trims typed text", () => {
    const result = parseClientMessage(
      JSON.stringify({ type: "user_text", id: "a", text: "  hi  " }),
    );
    expect(result.ok && result.message.type === "user_text" && result.message.text).toBe("hi");
  });

  it.each([
    ["not json", "bad_json"],
    ["null", "unknown_type"],
    ['"sign_in"', "unknown_type"],
    ['{"type":"SIGN_IN","pin":"1234"}', "unknown_type"],
    ['{"type":"sign_in","pin":"123"}', "invalid_message"],
    ['{"type":"sign_in","pin":"123456789"}', "invalid_message"],
    ['{"type":"sign_in","pin":1234}', "invalid_message"],
    ['{"type":"resume","token":"short"}', "invalid_message"],
    ['{"type":"user_text","id":"","text":"x"}', "invalid_message"],
    ['{"type":"ping","t":"now"}', "invalid_message"],
    // Playback reports from the page: a voice turn id and whole, bounded milliseconds.
    ['{"type":"playback_stopped","turnId":"t1","playedMs":10}', "invalid_message"],
    ['{"type":"playback_stopped","turnId":"v1","playedMs":-5}', "invalid_message"],
    ['{"type":"playback_stopped","turnId":"v1","playedMs":1.5}', "invalid_message"],
    ['{"type":"playback_started","turnId":"v1","playoutDelayMs":9999999}', "invalid_message"],
    ['{"type":"playback_started","turnId":"v1"}', "invalid_message"],
  ])("rejects %s as %s", (raw, code) => {
    const result = parseClientMessage(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.code).toBe(code);
  });

  it("bounds the frame size before parsing", () => {
    const result = parseClientMessage(" ".repeat(MAX_TEXT_FRAME_CHARS + 1));
    expect(result).toMatchObject({ ok: false, code: "too_large" });
  });
});

describe("parseServerMessage", () => {
  it("round-trips what the server sends", () => {
    const hello = {
      type: "hello",
      protocol: PROTOCOL_VERSION,
      expect: "sign_in",
    } satisfies ServerMessage;
    expect(parseServerMessage(JSON.stringify(hello))).toEqual({ ok: true, message: hello });
  });

  it("rejects a different protocol version", () => {
    const result = parseServerMessage(
      JSON.stringify({ type: "hello", protocol: 99, expect: "sign_in" }),
    );
    expect(result.ok).toBe(false);
  });
});

describe("audio frames", () => {
  it("encode and decode without copying the payload", () => {
    const pcm = new Uint8Array(CALLER_FRAME_BYTES).map((_, i) => i % 256);
    const frame = encodeAudioFrame(AudioFrameKind.CallerPcm16k, 65_537, pcm);
    const decoded = decodeAudioFrame(frame);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.frame.kind).toBe(AudioFrameKind.CallerPcm16k);
    expect(decoded.frame.seq).toBe(1); // wraps at 16 bits
    expect(decoded.frame.pcm).toEqual(pcm);
    expect(decoded.frame.pcm.buffer).toBe(frame.buffer);
  });

  it("carry the reply-start flag, and no flags by default", () => {
    const pcm = new Uint8Array(4);
    const marked = decodeAudioFrame(
      encodeAudioFrame(AudioFrameKind.AssistantPcm, 0, pcm, AudioFrameFlag.ReplyStart),
    );
    const plain = decodeAudioFrame(encodeAudioFrame(AudioFrameKind.AssistantPcm, 1, pcm));
    expect(marked.ok && marked.frame.flags).toBe(AudioFrameFlag.ReplyStart);
    expect(plain.ok && plain.frame.flags).toBe(0);
  });

  it.each([
    [new Uint8Array([1, 0, 0, 0]), /shorter/],
    [new Uint8Array([7, 0, 0, 0, 0, 0]), /Unknown audio frame kind/],
    [new Uint8Array([1, 0, 0, 0, 0, 0, 0]), /whole 16-bit samples/],
    [new Uint8Array(4 + MAX_AUDIO_PAYLOAD_BYTES + 2).fill(1, 0, 1), /too large/],
  ])("rejects malformed frame %#", (bytes, message) => {
    const decoded = decodeAudioFrame(bytes);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.message).toMatch(message);
  });
});
