/**
 * How the bench names a call's turns in everything the fakes see of them. A module of its own,
 * with no side effects: settings.ts parses the bench's command line when loaded, and
 * profile-summary (--turn-window) reads these names without being the bench.
 */

/** What caller `call` says in turn `turn`: six words, the first a tag the fakes are matched by. */
export const callTag = (run: string, call: number) => `[${run}c${call}t`;
/** The words that name turn `turn` of the call tagged `tag`. */
export const turnWords = (tag: string, turn: number) => `${tag}${turn}]`;
export const utteranceText = (tag: string, turn: number) => `${turnWords(tag, turn)} what's next?`;
