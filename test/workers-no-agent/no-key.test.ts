import { describe, expect, it } from "vitest";
import { AGENT_NOT_CONFIGURED } from "../../durable-objects/conversation.ts";
import {
  AudioFrameKind,
  CALLER_FRAME_BYTES,
  encodeAudioFrame,
} from "../../protocol/audio-frame.ts";
import { SessionSocket } from "../workers/support/session-socket.ts";
import { createUser } from "../workers/support/users.ts";

describe("without provider keys", () => {
  it("says plainly that the assistant is not configured and how to set it", async () => {
    const user = await createUser();
    const socket = await SessionSocket.open();
    await socket.next("hello");
    socket.send({ type: "sign_in", pin: user.pin });
    await socket.next("signed_in");
    const notice = await socket.next("notice");
    expect(notice).toMatchObject({ code: "agent_not_configured", level: "warning" });
    expect(notice.text).toBe(AGENT_NOT_CONFIGURED);
    expect(notice.text).toMatch(/ANTHROPIC_API_KEY/);

    socket.send({ type: "user_text", id: "1", text: "add milk" });
    expect((await socket.next("transcript")).entry.text).toBe("add milk");
    expect((await socket.next("notice")).code).toBe("agent_not_configured");
    // Nothing pretends to be Claude.
    socket.send({ type: "ping", t: 1 });
    expect((await socket.next("pong")).t).toBe(1);
    socket.close();
  });

  it("without a Deepgram key, says once that voice is not set up", async () => {
    const user = await createUser();
    const socket = await SessionSocket.open();
    await socket.next("hello");
    socket.send({ type: "sign_in", pin: user.pin });
    await socket.next("signed_in");
    await socket.next("notice");
    const frame = () =>
      encodeAudioFrame(AudioFrameKind.CallerPcm16k, 0, new Uint8Array(CALLER_FRAME_BYTES));
    socket.ws.send(frame());
    const error = await socket.next("error");
    expect(error).toMatchObject({ code: "audio_unavailable", fatal: false });
    expect(error.message).toMatch(/DEEPGRAM_API_KEY/);
    socket.ws.send(frame());
    socket.send({ type: "ping", t: 2 });
    expect((await socket.next("pong")).t).toBe(2);
    socket.close();
  });
});
