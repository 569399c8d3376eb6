import { describe, expect, it } from "vitest";
import { MAX_AUDIO_PAYLOAD_BYTES } from "../../protocol/audio-frame.ts";
import { FRAME_SAMPLES } from "../../web/caller/audio/mic-framer.ts";
import {
  FRAME_MS,
  JOINED_FRAMES,
  QUIET_AFTER_MS,
  QUIET_LEVEL,
  QuietFrames,
} from "../../web/caller/audio/quiet-frames.ts";

const LOUD = 0.1;
const QUIET = QUIET_LEVEL / 4;

/** Feeds `levels` (one per 20 ms frame, each frame filled with its index) and records what left. */
function play(levels: number[], mayWait: (i: number) => boolean = () => true) {
  const quiet = new QuietFrames();
  const sent: { at: number; frames: number[] }[] = [];
  levels.forEach((level, i) => {
    const frame = new Int16Array(FRAME_SAMPLES).fill(i);
    quiet.push(frame, level, mayWait(i), (pcm) => {
      const frames: number[] = [];
      for (let at = 0; at < pcm.length; at += FRAME_SAMPLES) frames.push(pcm[at] ?? -1);
      expect(pcm.length % FRAME_SAMPLES).toBe(0);
      sent.push({ at: i, frames });
    });
  });
  return { quiet, sent };
}

/** Quiet frames sent one by one: the next ends QUIET_AFTER_MS of quiet, and may wait. */
const quietFramesBeforeJoining = QUIET_AFTER_MS / FRAME_MS - 1;

describe("the caller page's quiet frames", () => {
  it("joins at most 100 ms, the most a frame may carry", () => {
    expect(JOINED_FRAMES * FRAME_SAMPLES * 2).toBe(MAX_AUDIO_PAYLOAD_BYTES);
    expect(JOINED_FRAMES).toBe(5);
  });

  it("sends every frame at once while the caller speaks and until they have been quiet for a while", () => {
    const levels = [...Array(50).fill(LOUD), ...Array(quietFramesBeforeJoining - 1).fill(QUIET)];
    const { sent, quiet } = play(levels);
    expect(sent).toHaveLength(levels.length);
    expect(sent.every((message, i) => message.at === i && message.frames.join() === `${i}`)).toBe(
      true,
    );
    expect(quiet.held).toBe(0);
  });

  it("joins quiet frames into 100 ms messages, in order, none lost or repeated", () => {
    const levels = [LOUD, ...Array(quietFramesBeforeJoining + 20).fill(QUIET)];
    const { sent, quiet } = play(levels);
    const joined = sent.filter((message) => message.frames.length > 1);
    expect(joined).toHaveLength(4);
    for (const message of joined) expect(message.frames).toHaveLength(JOINED_FRAMES);
    // Each leaves with its last frame: no frame waits beyond 80 ms.
    for (const message of joined) expect(message.at).toBe(message.frames.at(-1));
    const frames = sent.flatMap((message) => message.frames);
    expect(frames).toEqual(levels.map((_, i) => i));
    expect(quiet.held).toBe(0);
  });

  it("sends a loud frame at once, on its own, right after the quiet frames held before it", () => {
    const loud = quietFramesBeforeJoining + 3;
    const levels = [...Array(loud).fill(QUIET), LOUD, QUIET, QUIET];
    const { sent } = play(levels);
    const at = sent.findIndex((message) => message.frames.includes(loud));
    expect(sent[at]).toEqual({ at: loud, frames: [loud] });
    expect(sent[at - 1]).toEqual({ at: loud, frames: [loud - 3, loud - 2, loud - 1] });
    // Then the caller counts as speaking: the frames after it leave one by one.
    expect(sent.slice(-2).map((message) => message.frames)).toEqual([[loud + 1], [loud + 2]]);
  });

  it("holds nothing while frames may not wait (a person may hear the caller)", () => {
    const levels = Array(quietFramesBeforeJoining + 30).fill(QUIET);
    // A transfer is asked for two frames after a joined message left.
    const live = quietFramesBeforeJoining + JOINED_FRAMES + 2;
    const { sent } = play(levels, (i) => i < live);
    const after = sent.filter((message) => message.at >= live);
    expect(after[0]?.frames).toEqual([live - 2, live - 1]);
    expect(after.slice(1).map((message) => message.frames.length)).toEqual(
      Array(levels.length - live).fill(1),
    );
    expect(sent.flatMap((message) => message.frames)).toEqual(levels.map((_, i) => i));
  });

  it("sends what it holds when the microphone closes", () => {
    const levels = Array(quietFramesBeforeJoining + 2).fill(QUIET);
    const { sent, quiet } = play(levels);
    expect(quiet.held).toBe(2);
    const flushed: Int16Array[] = [];
    quiet.flush((pcm) => flushed.push(pcm));
    expect(flushed.map((pcm) => pcm.length)).toEqual([2 * FRAME_SAMPLES]);
    expect(quiet.held).toBe(0);
    expect(sent).toHaveLength(quietFramesBeforeJoining);
  });
});
