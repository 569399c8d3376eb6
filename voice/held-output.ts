/**
 * What a turn sends while it may still be taken back. With Flux, an EagerEndOfTurn starts the
 * agent before the caller's turn is certain: until `commit()` everything the turn would send
 * (text, audio, transcript rows) waits here, in order; `cancel()` drops it all (TurnResumed).
 * A turn that is certain from the start uses `HeldOutput.committed()`, which passes straight on.
 */
export class HeldOutput {
  #state: "held" | "committed" | "cancelled";
  #queue: (() => void)[] = [];
  #resolve: (committed: boolean) => void = () => undefined;
  /** Resolves true on commit, false on cancel. */
  readonly decided: Promise<boolean>;
  committedAt: number | undefined;

  constructor(state: "held" | "committed" = "held") {
    this.#state = state;
    if (state === "committed") this.committedAt = Date.now();
    this.decided =
      state === "committed"
        ? Promise.resolve(true)
        : new Promise<boolean>((resolve) => {
            this.#resolve = resolve;
          });
  }

  static committed(): HeldOutput {
    return new HeldOutput("committed");
  }

  get held(): boolean {
    return this.#state === "held";
  }

  get cancelled(): boolean {
    return this.#state === "cancelled";
  }

  /** Runs `action` now if committed, later if held, never if cancelled. */
  run(action: () => void) {
    if (this.#state === "committed") return action();
    if (this.#state === "held") this.#queue.push(action);
  }

  commit() {
    if (this.#state !== "held") return;
    this.#state = "committed";
    this.committedAt = Date.now();
    for (const action of this.#queue.splice(0)) action();
    this.#resolve(true);
  }

  cancel() {
    if (this.#state !== "held") return;
    this.#state = "cancelled";
    this.#queue = [];
    this.#resolve(false);
  }
}
