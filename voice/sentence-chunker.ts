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

/**
 * Cuts `text` into pieces of at most `maxChars` for a synthesiser with a length limit (Aura takes
 * 2 000 characters): at the last sentence end that fits, else the last clause break (, ; : —),
 * else the last space; a single unbroken run longer than the limit is cut at the limit.
 */
export function splitForSpeech(text: string, maxChars: number): string[] {
  const pieces: string[] = [];
  let rest = text.trim();
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars + 1);
    const cut =
      lastBreak(window, /[.!?…]["')\]]*\s/g) ??
      lastBreak(window, /[,;:—–]\s|\s[—–-]\s/g) ??
      lastBreak(window, /\s/g) ??
      maxChars;
    pieces.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut).trim();
  }
  if (rest) pieces.push(rest);
  return pieces;
}

/** Where the last match of `pattern` in `window` ends (past its punctuation), if any. */
function lastBreak(window: string, pattern: RegExp): number | undefined {
  let end: number | undefined;
  for (const match of window.matchAll(pattern)) {
    const at = match.index + match[0].trimEnd().length;
    if (at > 0 && at <= window.length - 1) end = at;
  }
  return end;
}
