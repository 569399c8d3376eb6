/**
 * What the assistant is doing in the call — thinking about a turn, speaking it, or (with no
 * audio) writing it — kept from the server's messages and the player's reports, and shown on
 * the stage together with the rest of the call's state (call-state.ts).
 */
import { type CallFacts, type CallView, callView } from "./call-state.ts";

/** Where the activity is shown: the stage at the centre of the page (call-stage.ts). */
export interface ActivityStage {
  show(view: CallView): void;
  interim(text: string): void;
}

/** Between two sentences the player is briefly quiet: "Speaking" holds over such a gap. */
const SPEAKING_HOLD_MS = 400;

export class CallActivity {
  readonly #stage: ActivityStage;
  readonly #facts: () => Omit<CallFacts, "speaking" | "thinking">;
  /** A turn is under way (the caller finished speaking or sent a message; no reply done yet). */
  #thinking = false;
  #playing = false;
  /**
   * The caller took the floor (a new turn) since audio last played: the old reply going quiet
   * now is its end, not a pause between its sentences, and holds nothing. The player's report
   * of that quiet may come before or after the turn's message; either way it is the same.
   */
  #floorTaken = false;
  #writing = false;
  #speakingUntil = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `facts`: the rest of the call's state, read on every render. */
  constructor(stage: ActivityStage, facts: () => Omit<CallFacts, "speaking" | "thinking">) {
    this.#stage = stage;
    this.#facts = facts;
  }

  /** The caller's turn is in: the assistant works on it. */
  turnStarted() {
    this.#stage.interim("");
    this.#thinking = true;
    // The gap after the last reply is over: the caller has the floor.
    this.#speakingUntil = 0;
    this.#floorTaken = true;
    this.render();
  }

  /** Reply text arrives; with no audio running, writing it is the assistant's speaking. */
  replyText(audioRunning: boolean) {
    if (audioRunning || this.#writing) return;
    this.#writing = true;
    this.render();
  }

  /** The turn is over (answered, cut off, failed, or the call left): the call listens again. */
  turnOver() {
    this.#thinking = false;
    this.#writing = false;
    this.render();
  }

  /** The player's report: sounding, or quiet. */
  playing(now: boolean) {
    this.#playing = now;
    if (now) this.#floorTaken = false;
    else if (!this.#floorTaken) this.#speakingUntil = performance.now() + SPEAKING_HOLD_MS;
    this.render();
  }

  render() {
    clearTimeout(this.#timer);
    const wait = this.#speakingUntil - performance.now();
    if (wait > 0) this.#timer = setTimeout(() => this.render(), wait);
    this.#stage.show(
      callView({
        ...this.#facts(),
        speaking: this.#playing || this.#writing || wait > 0,
        thinking: this.#thinking,
      }),
    );
  }
}
