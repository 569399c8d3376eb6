/**
 * What the assistant is doing in the call — thinking about a turn, speaking it, or (with no
 * audio) writing it — kept from the server's messages and the player's reports, and shown on
 * the stage together with the rest of the call's state (call-state.ts).
 */
import type { CallStage } from "./call-stage.ts";
import { type CallFacts, callView } from "./call-state.ts";

/** Between two sentences the player is briefly quiet: "Speaking" holds over such a gap. */
const SPEAKING_HOLD_MS = 400;

export class CallActivity {
  readonly #stage: CallStage;
  readonly #facts: () => Omit<CallFacts, "speaking" | "thinking">;
  /** A turn is under way (the caller finished speaking or sent a message; no reply done yet). */
  #thinking = false;
  #playing = false;
  #writing = false;
  #speakingUntil = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `facts`: the rest of the call's state, read on every render. */
  constructor(stage: CallStage, facts: () => Omit<CallFacts, "speaking" | "thinking">) {
    this.#stage = stage;
    this.#facts = facts;
  }

  /** The caller's turn is in: the assistant works on it. */
  turnStarted() {
    this.#stage.interim("");
    this.#thinking = true;
    // The gap after the last reply is over: the caller has the floor.
    this.#speakingUntil = 0;
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
    if (!now) this.#speakingUntil = performance.now() + SPEAKING_HOLD_MS;
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
