import { describe, expect, it } from "vitest";
import {
  readAuraMessage,
  readFluxMessage,
  readNovaMessage,
} from "../../voice/deepgram/messages.ts";

/** A Results message as Nova sends it (fields we do not use included). */
function results(fields: Record<string, unknown> = {}, alternative: Record<string, unknown> = {}) {
  return {
    type: "Results",
    channel_index: [0, 1],
    start: 1.5,
    duration: 0.75,
    is_final: true,
    speech_final: true,
    from_finalize: false,
    channel: {
      alternatives: [
        {
          transcript: "add milk",
          confidence: 0.98,
          words: [
            { word: "add", start: 1.5, end: 1.8, confidence: 0.99, punctuated_word: "Add" },
            { word: "milk", start: 1.9, end: 2.2, confidence: 0.97, punctuated_word: "milk" },
          ],
          ...alternative,
        },
      ],
    },
    metadata: { request_id: "r", model_info: { name: "n", version: "1", arch: "a" } },
    ...fields,
  };
}

describe("readNovaMessage", () => {
  it("reads a final result: its span, flags, transcript and where its last word ends", () => {
    expect(readNovaMessage(results())).toEqual({
      type: "Results",
      start: 1.5,
      duration: 0.75,
      isFinal: true,
      speechFinal: true,
      transcript: "add milk",
      lastWordEnd: 2.2,
    });
  });

  it("reads an interim, a result with no words and one with no alternative", () => {
    const interim = readNovaMessage(results({ is_final: false, speech_final: undefined }));
    expect(interim).toMatchObject({ isFinal: false, speechFinal: false });
    expect(readNovaMessage(results({}, { transcript: "", words: [] }))).toMatchObject({
      transcript: "",
      lastWordEnd: undefined,
    });
    expect(readNovaMessage(results({ channel: { alternatives: [] } }))).toMatchObject({
      transcript: "",
      lastWordEnd: undefined,
    });
  });

  it("reads the end of an utterance, the start of speech and metadata", () => {
    expect(readNovaMessage({ type: "UtteranceEnd", channel: [0, 1], last_word_end: 2.2 })).toEqual({
      type: "UtteranceEnd",
      lastWordEnd: 2.2,
    });
    expect(readNovaMessage({ type: "SpeechStarted", channel: [0], timestamp: 1.2 })).toEqual({
      type: "SpeechStarted",
    });
    expect(readNovaMessage({ type: "Metadata", request_id: "r" })).toEqual({ type: "Metadata" });
  });

  it("refuses what is not a message we read, or has a field we use missing or of another type", () => {
    const refused = [
      null,
      "Results",
      [results()],
      { type: "Nonsense" },
      results({ start: "1.5" }),
      results({ duration: undefined }),
      results({ is_final: "true" }),
      results({ speech_final: null }),
      results({ channel: null }),
      results({ channel: { alternatives: "add milk" } }),
      results({}, { transcript: 3 }),
      results({}, { words: "add milk" }),
      results({}, { words: [{ word: "milk", end: "2.2" }] }),
      results({}, { words: [null] }),
      { type: "UtteranceEnd", last_word_end: null },
      { type: "SpeechStarted" },
    ];
    for (const message of refused) {
      expect(readNovaMessage(message), JSON.stringify(message)).toBeUndefined();
    }
  });
});

describe("readFluxMessage", () => {
  const turnInfo = (fields: Record<string, unknown> = {}) => ({
    type: "TurnInfo",
    event: "EndOfTurn",
    turn_index: 0,
    audio_window_start: 0,
    audio_window_end: 2.4,
    transcript: "add milk",
    words: [
      { word: "add", confidence: 0.9, end: 1.8 },
      { word: "milk", confidence: 0.9, end: 2.2 },
    ],
    end_of_turn_confidence: 0.9,
    ...fields,
  });

  it("reads a turn event, with its last word's end, or none when it has no end", () => {
    expect(readFluxMessage(turnInfo())).toEqual({
      type: "TurnInfo",
      event: "EndOfTurn",
      transcript: "add milk",
      audioWindowEnd: 2.4,
      lastWordEnd: 2.2,
    });
    expect(readFluxMessage(turnInfo({ words: [{ word: "milk" }] }))).toMatchObject({
      lastWordEnd: undefined,
    });
    expect(readFluxMessage({ type: "Connected", request_id: "r" })).toEqual({ type: "Connected" });
    expect(readFluxMessage({ type: "FatalError", description: "bad audio" })).toEqual({
      type: "FatalError",
      description: "bad audio",
    });
  });

  it("refuses an unknown event, or a field we use missing or of another type", () => {
    const refused = [
      turnInfo({ event: "Whatever" }),
      turnInfo({ transcript: undefined }),
      turnInfo({ audio_window_end: "2.4" }),
      turnInfo({ words: {} }),
      turnInfo({ words: [{ word: "milk", end: "2.2" }] }),
      { type: "FatalError", description: 7 },
      { type: "Results" },
      42,
    ];
    for (const message of refused) {
      expect(readFluxMessage(message), JSON.stringify(message)).toBeUndefined();
    }
  });
});

describe("readAuraMessage", () => {
  it("reads each socket message, a Warning's or Error's words included", () => {
    expect(readAuraMessage({ type: "Flushed", sequence_id: 0 })).toEqual({
      type: "Flushed",
      detail: undefined,
    });
    expect(readAuraMessage({ type: "Warning", description: "Text too long", code: "X" })).toEqual({
      type: "Warning",
      detail: "Text too long",
    });
    expect(readAuraMessage({ type: "Error", err_msg: "Invalid JSON.", description: "d" })).toEqual({
      type: "Error",
      detail: "Invalid JSON.",
    });
    for (const type of ["Metadata", "Cleared"]) expect(readAuraMessage({ type })?.type).toBe(type);
  });

  it("refuses an unknown type or words that are not text", () => {
    for (const message of [
      { type: "Speak" },
      { type: "Error", err_msg: 500 },
      { type: "Warning", description: null },
      [],
      undefined,
    ]) {
      expect(readAuraMessage(message), JSON.stringify(message)).toBeUndefined();
    }
  });
});
