import { describe, expect, it } from "vitest";
import { SentenceChunker } from "../../voice/sentence-chunker.ts";

function feed(chunker: SentenceChunker, deltas: string[]): string[][] {
  return deltas.map((d) => chunker.push(d));
}

describe("SentenceChunker", () => {
  it("emits each sentence as soon as the next one starts", () => {
    const chunker = new SentenceChunker();
    const out = feed(chunker, [
      "Done — renew the ",
      "domain is due Friday.",
      " You have two",
      " more todos today.",
    ]);
    expect(out).toEqual([[], [], ["Done — renew the domain is due Friday."], []]);
    expect(chunker.flush()).toEqual(["You have two more todos today."]);
  });

  it("does not cut at decimals, abbreviations, initials or times", () => {
    const chunker = new SentenceChunker();
    const text = "Dr. Smith moved it to 3.5 hours at 3 p.m. on Friday. J. R. Tolkien agrees! Okay?";
    const sentences = [...chunker.push(text), ...chunker.flush()];
    expect(sentences).toEqual([
      "Dr. Smith moved it to 3.5 hours at 3 p.m. on Friday.",
      "J. R. Tolkien agrees!",
      "Okay?",
    ]);
  });

  it("waits when a delta ends on a dot: it may be a decimal", () => {
    const chunker = new SentenceChunker();
    expect(chunker.push("The total is 3.")).toEqual([]);
    expect(chunker.push("5 dollars, as agreed.")).toEqual([]);
    expect(chunker.flush()).toEqual(["The total is 3.5 dollars, as agreed."]);
  });

  it("joins very short sentences to the next and cuts at line breaks", () => {
    const chunker = new SentenceChunker({ minChars: 12 });
    expect(chunker.push("Sure. I added milk to your list.\nAnything else")).toEqual([
      "Sure. I added milk to your list.",
    ]);
    expect(chunker.flush()).toEqual(["Anything else"]);
  });

  it("reset drops what was not spoken", () => {
    const chunker = new SentenceChunker();
    chunker.push("This will never be");
    chunker.reset();
    expect(chunker.flush()).toEqual([]);
  });
});
