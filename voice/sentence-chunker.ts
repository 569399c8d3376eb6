/**
 * Cuts the model's token stream into sentences as it arrives, so each sentence can go to
 * text-to-speech while the model is still writing the next one. Pure: the pipeline feeds it
 * deltas and speaks what comes out.
 *
 * The reply's first piece may be a clause rather than a sentence: the caller waits for nothing
 * but that first audio, and a clause break comes several tokens before the sentence's end. Only
 * the first: later pieces stay sentences, fewer and more natural requests to the synthesiser.
 */

/**
 * Words whose trailing dot does not end a sentence: titles, and what a calendar, a todo list or a
 * transfer names (a company, an address, a month or a day, a phone extension). A sentence that
 * does end on one is only joined to the next; one cut after it pauses mid-sentence.
 */
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
  "inc",
  "ltd",
  "co",
  "corp",
  "dept",
  "ave",
  "blvd",
  "rd",
  "apt",
  "ste",
  "mt",
  "ext",
  "tel",
  "jan",
  "feb",
  "mar",
  "apr",
  "jun",
  "jul",
  "aug",
  "sep",
  "sept",
  "oct",
  "nov",
  "dec",
  "mon",
  "tue",
  "tues",
  "wed",
  "thu",
  "thur",
  "thurs",
  "fri",
  "sat",
  "sun",
]);

/** A comma before one of these splits a date ("Friday, March 3"): no clause ends there. */
const MONTHS =
  /^(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sept?(ember)?|oct(ober)?|nov(ember)?|dec(ember)?)\b/i;

/**
 * Words a clause break needs after it before it is taken. A sentence that ends within them is
 * spoken whole ("…to your list, Alice."), and a comma within them means a list ("renew the
 * domain, call Sam, and…"), read oddly when cut.
 */
const LOOKAHEAD_WORDS = 3;

export interface ChunkerOptions {
  /** Sentences shorter than this are held and joined to the next, to avoid choppy speech. @default 12 */
  minChars?: number;
  /**
   * The reply's first piece may end at a clause break (, ; : or a spaced dash) once the clause
   * has this many words; `Infinity` waits for a sentence. @default 5
   */
  firstClauseMinWords?: number;
}

/** What to do at a clause break: cut there, pass on, or wait for more text to decide. */
type ClauseVerdict = "cut" | "skip" | "wait";

export class SentenceChunker {
  #buffer = "";
  readonly #minChars: number;
  readonly #firstClauseMinWords: number;
  /** Something was emitted: from now on only whole sentences. */
  #emitted = false;

  constructor(options: ChunkerOptions = {}) {
    this.#minChars = options.minChars ?? 12;
    this.#firstClauseMinWords = options.firstClauseMinWords ?? 5;
  }

  /** Adds streamed text; returns the pieces it completed, in order. */
  push(delta: string): string[] {
    this.#buffer += delta;
    const out: string[] = [];
    let start = 0;
    /** Where the current clause began, and whether this sentence reads as a list. */
    let clauseStart = 0;
    let clauses = 0;
    let list = false;
    for (let i = 0; i < this.#buffer.length; i++) {
      const ch = this.#buffer[i];
      if (!this.#emitted && isClauseBreak(this.#buffer, i) && !joinsOneThing(this.#buffer, i)) {
        const words = countWords(this.#buffer.slice(clauseStart, i));
        // A short clause between two commas is a list item ("milk, eggs, bread"): the rest of
        // this sentence is a list and is not cut.
        if (clauses > 0 && ch === "," && words < this.#firstClauseMinWords) list = true;
        clauses += 1;
        clauseStart = i + 1;
        if (list || words < this.#firstClauseMinWords) continue;
        const verdict = this.#clauseVerdict(i);
        if (verdict === "wait") break;
        if (verdict === "skip") continue;
        out.push(this.#buffer.slice(start, i + 1).trim());
        this.#emitted = true;
        start = i + 1;
        continue;
      }
      if (ch !== "." && ch !== "!" && ch !== "?" && ch !== "\n") continue;
      const next = this.#buffer[i + 1];
      // The end of the buffer is not yet a boundary: the next delta may continue it ("3.5").
      if (next === undefined) break;
      if (ch !== "\n" && !/\s/.test(next)) continue;
      if (ch === "." && this.#isAbbreviation(start, i)) continue;
      const sentence = this.#buffer.slice(start, i + 1).trim();
      if (sentence.length < this.#minChars) continue;
      out.push(sentence);
      this.#emitted = true;
      start = i + 1;
      clauseStart = start;
      clauses = 0;
      list = false;
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
    return isAbbreviation(word);
  }

  /** Whether the clause break at `at`, long enough already, is a natural place to cut. */
  #clauseVerdict(at: number): ClauseVerdict {
    const after = this.#buffer.slice(at + 1);
    const comma = this.#buffer[at] === ",";
    // Only words followed by a space are whole: "Alice" may yet become "Alice." or "Alice,".
    const whole = after.match(/\S+(?=\s)/g) ?? [];
    for (const word of whole.slice(0, LOOKAHEAD_WORDS)) {
      if (/[.!?]["')\]]*$/.test(word) && !this.#endsInAbbreviation(word)) return "skip";
      if (comma && /[,;:]$/.test(word)) return "skip";
    }
    return whole.length >= LOOKAHEAD_WORDS ? "cut" : "wait";
  }

  /** "Dr." or "p.m." ahead does not end the sentence; "Alice." does. */
  #endsInAbbreviation(word: string): boolean {
    return isAbbreviation(/([A-Za-z.]+)\.$/.exec(word)?.[1]?.toLowerCase() ?? "");
  }
}

/** `word` is what comes before a dot, lower-cased: "dr", "e.g", a lone initial or "u.s". */
function isAbbreviation(word: string): boolean {
  return ABBREVIATIONS.has(word) || /^([a-z]\.)*[a-z]$/.test(word);
}

/** A comma, semicolon, colon or dash before a space: "1,000" and "3:30" have none. */
function isClauseBreak(text: string, at: number): boolean {
  const ch = text[at];
  const next = text[at + 1];
  if (next === undefined || !/\s/.test(next)) return false;
  if (ch === "," || ch === ";" || ch === ":") return true;
  if (ch === "—" || ch === "–") return true;
  // A hyphen only as a spaced dash ("done - it's"), not a bullet at a line's start.
  return ch === "-" && text[at - 1] === " " && /\S/.test(text[at - 2] ?? "");
}

/**
 * The punctuation at `at` sits inside one spoken thing: "March 3, 2027" and "Friday, March 3"
 * are one date, "3 - 5" one range.
 */
function joinsOneThing(text: string, at: number): boolean {
  const nextWord = /^\s*(\S*)/.exec(text.slice(at + 1))?.[1] ?? "";
  if (/\d\s*$/.test(text.slice(Math.max(0, at - 2), at)) && /^\d/.test(nextWord)) return true;
  return text[at] === "," && MONTHS.test(nextWord);
}

/** Words with a letter or digit in them: "—" and "…" are not words. */
function countWords(text: string): number {
  let count = 0;
  for (const word of text.split(/\s+/)) if (/[\p{L}\p{N}]/u.test(word)) count += 1;
  return count;
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
