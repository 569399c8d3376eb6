/**
 * Cuts the model's token stream into sentences as it arrives, so each sentence can go to
 * text-to-speech while the model is still writing the next one. Pure: the pipeline feeds it
 * deltas and speaks what comes out.
 */

/** Words whose trailing dot does not end a sentence. */
const ABBREVIATIONS = new Set([
  "mr",
  "mrs",
  "ms",
  "dr",
  "prof",
  "sr",
  "jr",
  "st",
  "vs",
  "etc",
  "e.g",
  "i.e",
  "a.m",
  "p.m",
  "approx",
  "no",
]);

export interface ChunkerOptions {
  /** Sentences shorter than this are held and joined to the next, to avoid choppy speech. @default 12 */
  minChars?: number;
}

export class SentenceChunker {
  #buffer = "";
  readonly #minChars: number;

  constructor(options: ChunkerOptions = {}) {
    this.#minChars = options.minChars ?? 12;
  }

  /** Adds streamed text; returns the sentences it completed, in order. */
  push(delta: string): string[] {
    this.#buffer += delta;
    const out: string[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const ch = this.#buffer[i];
      if (ch !== "." && ch !== "!" && ch !== "?" && ch !== "\n") continue;
      const next = this.#buffer[i + 1];
      // The end of the buffer is not yet a boundary: the next delta may continue it ("3.5").
      if (next === undefined) break;
      if (ch !== "\n" && !/\s/.test(next)) continue;
      if (ch === "." && this.#isAbbreviation(start, i)) continue;
      const sentence = this.#buffer.slice(start, i + 1).trim();
      if (sentence.length < this.#minChars) continue;
      out.push(sentence);
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    return out;
  }

  /** The rest, once the model has finished. */
  flush(): string[] {
    const rest = this.#buffer.trim();
    this.#buffer = "";
    return rest ? [rest] : [];
  }

  /** Drops what has not been spoken (a barge-in). */
  reset() {
    this.#buffer = "";
  }

  #isAbbreviation(start: number, dot: number): boolean {
    const word = /([A-Za-z.]+)$/.exec(this.#buffer.slice(start, dot))?.[1]?.toLowerCase() ?? "";
    return ABBREVIATIONS.has(word) || /^[a-z]$/i.test(word);
  }
}
