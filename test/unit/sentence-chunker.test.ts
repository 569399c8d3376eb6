import { describe, expect, it } from "vitest";
import { SentenceChunker } from "../../voice/sentence-chunker.ts";

function feed(chunker: SentenceChunker, deltas: string[]): string[][] {
  return deltas.map((d) => chunker.push(d));
}

describe("SentenceChunker", () => {
  it("emits each sentence as soon as the next one starts", () => {
    const chunker = new SentenceChunker({ firstClauseMinWords: Number.POSITIVE_INFINITY });
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
    const chunker = new SentenceChunker({ firstClauseMinWords: Number.POSITIVE_INFINITY });
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

/** Feeds `text` a token at a time (words with their leading space, as Claude streams them). */
function stream(text: string, chunker = new SentenceChunker()): string[][] {
  const tokens = text.match(/\s*\S+/g) ?? [];
  return [...tokens.map((t) => chunker.push(t)), chunker.flush()];
}

/** The pieces, in order, of `text` streamed a token at a time. */
function pieces(text: string, chunker?: SentenceChunker): string[] {
  return stream(text, chunker).flat();
}

describe("SentenceChunker: the first piece may be a clause", () => {
  it("cuts the first clause once it has enough words, then only sentences", () => {
    expect(
      pieces(
        "I've moved the dentist to Friday morning, and I let Sam know about it. " +
          "Your next meeting is at noon, with the design team, in room four.",
      ),
    ).toEqual([
      "I've moved the dentist to Friday morning,",
      "and I let Sam know about it.",
      "Your next meeting is at noon, with the design team, in room four.",
    ]);
  });

  it("asks for the clause a few words after its comma, long before the sentence ends", () => {
    const text = "I've added renew the domain to your list, and it is due on Friday at noon.";
    const steps = stream(text);
    const at = steps.findIndex((s) => s.length > 0);
    // The comma is the 8th token; three whole words after it decide, not the sentence's 15.
    expect(at).toBe(11);
    expect(steps[at]).toEqual(["I've added renew the domain to your list,"]);
  });

  it("cuts at a semicolon, a colon and a spaced dash", () => {
    expect(pieces("Your calendar is clear tomorrow; the team meets on Monday.")[0]).toBe(
      "Your calendar is clear tomorrow;",
    );
    expect(
      pieces("Here are your three todos today: renew the domain, call Sam and pay rent."),
    ).toEqual(["Here are your three todos today:", "renew the domain, call Sam and pay rent."]);
    expect(pieces("That one is already marked as done — want me to reopen it?")[0]).toBe(
      "That one is already marked as done —",
    );
    expect(pieces("That one is already marked as done - want me to reopen it?")[0]).toBe(
      "That one is already marked as done -",
    );
  });

  it("never speaks a clause of one or two words", () => {
    expect(pieces("Sure, I can help with that. What would you like to add?")).toEqual([
      "Sure, I can help with that.",
      "What would you like to add?",
    ]);
    expect(pieces("Done — 'renew the domain' is due Friday, as you asked me to.")).toEqual([
      "Done — 'renew the domain' is due Friday,",
      "as you asked me to.",
    ]);
    expect(pieces("Okay, got it, I will remind you tomorrow morning.")).toEqual([
      "Okay, got it, I will remind you tomorrow morning.",
    ]);
  });

  it("does not cut when the sentence ends a word or two after the break", () => {
    expect(
      pieces("I've added milk to your shopping list, Alice. Anything else for today?"),
    ).toEqual(["I've added milk to your shopping list, Alice.", "Anything else for today?"]);
    expect(pieces("The meeting moved to the big room, as planned.")).toEqual([
      "The meeting moved to the big room, as planned.",
    ]);
  });

  it("does not break inside numbers, prices or times", () => {
    expect(
      pieces("You have walked 12,500 steps so far today, which beats yesterday by far."),
    ).toEqual(["You have walked 12,500 steps so far today,", "which beats yesterday by far."]);
    expect(
      pieces("The renewal for the domain costs $1,299.50, and it is due by Friday at 3:30 pm."),
    ).toEqual([
      "The renewal for the domain costs $1,299.50,",
      "and it is due by Friday at 3:30 pm.",
    ]);
    expect(pieces("Your call with the bank is at 3:30 pm: they will ring you.")).toEqual([
      "Your call with the bank is at 3:30 pm:",
      "they will ring you.",
    ]);
    expect(
      pieces("The flight is 3.5 hours long and it costs $4.99 per bag, oddly enough."),
    ).toEqual(["The flight is 3.5 hours long and it costs $4.99 per bag, oddly enough."]);
    // Split across deltas: "1," then "000" is one number, not a clause break.
    const chunker = new SentenceChunker();
    expect(chunker.push("You have earned a total of 1,")).toEqual([]);
    expect(chunker.push("000 points this month and more")).toEqual([]);
    expect(chunker.flush()).toEqual([
      "You have earned a total of 1,000 points this month and more",
    ]);
  });

  it("does not break inside dates or number ranges", () => {
    expect(
      pieces("Your next dentist appointment is on March 3, 2027 at noon, with Dr. Lee downtown."),
    ).toEqual([
      "Your next dentist appointment is on March 3, 2027 at noon,",
      "with Dr. Lee downtown.",
    ]);
    expect(pieces("The next review with the team is Friday, March 3 in the morning.")).toEqual([
      "The next review with the team is Friday, March 3 in the morning.",
    ]);
    expect(pieces("The workshop should take somewhere between 3 - 5 hours in total.")).toEqual([
      "The workshop should take somewhere between 3 - 5 hours in total.",
    ]);
  });

  it("does not break at abbreviations", () => {
    expect(pieces("I booked you in with Dr. Smith at the U.S. embassy, and he will call.")).toEqual(
      ["I booked you in with Dr. Smith at the U.S. embassy,", "and he will call."],
    );
    // Before "e.g." is a natural pause; its dots never end anything.
    expect(pieces("You could bring something small for the host, e.g. a card or flowers.")).toEqual(
      ["You could bring something small for the host,", "e.g. a card or flowers."],
    );
    expect(pieces("Bring something for the host of the party, e.g., a card or flowers.")).toEqual([
      "Bring something for the host of the party, e.g., a card or flowers.",
    ]);
    // A company, a date and an extension, as a calendar, a todo list or a transfer names them.
    expect(pieces("Got it, so the call with Acme Inc. is moved to 4 pm on Tuesday.")).toEqual([
      "Got it, so the call with Acme Inc. is moved to 4 pm on Tuesday.",
    ]);
    expect(pieces("Your review is on Tue. Jan. 5 at 9 a.m. in the main office.")).toEqual([
      "Your review is on Tue. Jan. 5 at 9 a.m. in the main office.",
    ]);
    expect(pieces("I am putting you through to the billing desk at ext. 2001 now.")).toEqual([
      "I am putting you through to the billing desk at ext. 2001 now.",
    ]);
  });

  it("does not cut a list", () => {
    // The break is long enough, but a comma a word or two later shows a list.
    expect(pieces("Your three todos are renew the domain, call Sam, and buy milk.")).toEqual([
      "Your three todos are renew the domain, call Sam, and buy milk.",
    ]);
    // Short items between commas: the rest of the sentence is a list too.
    expect(
      pieces("You need milk, eggs, bread and a big bag of apples, and then you are done."),
    ).toEqual(["You need milk, eggs, bread and a big bag of apples, and then you are done."]);
  });

  it("a dash at a line's start is a bullet, not a clause break", () => {
    const chunker = new SentenceChunker();
    expect(chunker.push("These are the todos for this week\n- renew the domain today\n")).toEqual([
      "These are the todos for this week",
    ]);
    expect(chunker.flush()).toEqual(["- renew the domain today"]);
  });

  it("waits for the words after a break when a delta ends there", () => {
    const chunker = new SentenceChunker();
    expect(chunker.push("I have moved the meeting to Friday, ")).toEqual([]);
    expect(chunker.push("and told ")).toEqual([]);
    expect(chunker.push("the")).toEqual([]);
    expect(chunker.push(" team about it")).toEqual(["I have moved the meeting to Friday,"]);
    expect(chunker.flush()).toEqual(["and told the team about it"]);
  });
});
