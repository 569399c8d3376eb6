import { describe, expect, inject, it } from "vitest";
import {
  AudioFrameKind,
  CALLER_FRAME_BYTES,
  encodeAudioFrame,
  MAX_AUDIO_PAYLOAD_BYTES,
} from "../../protocol/audio-frame.ts";
import { MAX_TEXT_FRAME_CHARS } from "../../protocol/messages.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { SessionSocket, signIn } from "./support/session-socket.ts";
import { createUser } from "./support/users.ts";

async function expectStillAlive(socket: SessionSocket) {
  socket.send({ type: "ping", t: 42 });
  expect(await socket.next("pong")).toEqual({ type: "pong", t: 42 });
}

describe("bad input leaves the session usable", () => {
  it("before sign-in: each bad frame gets a clear error, then sign-in still works", async () => {
    const user = await createUser();
    const socket = await SessionSocket.open();
    await socket.next("hello");
    const cases: [unknown, string][] = [
      ["{not json", "bad_json"],
      [{ type: "launch_missiles" }, "unknown_type"],
      [[1, 2, 3], "unknown_type"],
      [{ type: "sign_in", pin: "12ab" }, "invalid_message"],
      [{ type: "sign_in" }, "invalid_message"],
      [{ type: "user_text", id: "x", text: "hi" }, "not_signed_in"],
      [JSON.stringify({ type: "ping", t: 1, pad: "x".repeat(MAX_TEXT_FRAME_CHARS) }), "too_large"],
    ];
    for (const [frame, code] of cases) {
      socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
      const error = await socket.next("error");
      expect(error.code).toBe(code);
      expect(error.fatal).toBe(false);
      expect(error.message.length).toBeGreaterThan(5);
    }
    socket.ws.send(
      encodeAudioFrame(AudioFrameKind.CallerPcm16k, 0, new Uint8Array(CALLER_FRAME_BYTES)),
    );
    expect((await socket.next("error")).code).toBe("not_signed_in");
    await expectStillAlive(socket);
    socket.send({ type: "sign_in", pin: user.pin });
    await socket.next("signed_in");
    socket.close();
  });

  it("does not quote the offending input back", async () => {
    const socket = await SessionSocket.open();
    await socket.next("hello");
    socket.send({ type: "sign_in", pin: "<script>alert(1)</script>" });
    const error = await socket.next("error");
    expect(error.message).not.toContain("<script>");
    socket.close();
  });

  it("after sign-in: bad audio frames, oversized frames and unexpected messages", async () => {
    const user = await createUser();
    await scriptClaude(inject("anthropicBaseUrl"), user.name, [
      { kind: "text", text: "Still with you." },
    ]);
    const { socket } = await signIn(user.pin);
    socket.ws.send(new Uint8Array([1, 0, 0]));
    expect((await socket.next("error")).code).toBe("bad_audio_frame");
    socket.ws.send(new Uint8Array([9, 0, 0, 0, 0, 0]));
    expect((await socket.next("error")).code).toBe("bad_audio_frame");
    socket.ws.send(
      encodeAudioFrame(AudioFrameKind.CallerPcm16k, 1, new Uint8Array(MAX_AUDIO_PAYLOAD_BYTES + 2)),
    );
    expect((await socket.next("error")).code).toBe("bad_audio_frame");
    // Well-formed audio goes to speech recognition without a word back.
    socket.ws.send(
      encodeAudioFrame(AudioFrameKind.CallerPcm16k, 2, new Uint8Array(CALLER_FRAME_BYTES)),
    );
    socket.send({ type: "sign_in", pin: user.pin });
    expect((await socket.next("error")).code).toBe("already_signed_in");
    socket.send({ type: "user_text", id: "a", text: "   " });
    expect((await socket.next("error")).code).toBe("invalid_message");
    socket.send({ type: "user_text", id: "b", text: "x".repeat(2_001) });
    expect((await socket.next("error")).code).toBe("invalid_message");
    await expectStillAlive(socket);
    socket.send({ type: "user_text", id: "c", text: "still here" });
    expect((await socket.next("transcript")).entry.text).toBe("still here");
    while ((await socket.nextAny()).type !== "assistant_done") {
      // the reply streams in
    }
    socket.close();
  });
});
