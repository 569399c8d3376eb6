/**
 * Named deadlines over a Durable Object's single alarm. An object has one alarm; a session
 * needs several timers at once (the resume window, a transfer's ring timeout, the wait for its
 * media stream). Each is stored under its name, and the alarm is always set to the earliest,
 * so setting one never overwrites another and all of them survive eviction.
 */

/** `silence`: the caller's silence in a voice call (silence-watch.ts). */
export type DeadlineName = "session" | "transfer" | "silence";

const KEY = "deadlines";

type Stored = Partial<Record<DeadlineName, number>>;

export class Deadlines {
  readonly #storage: DurableObjectStorage;
  /**
   * The stored deadlines, read once per object: asked on every word the caller says (is the
   * silence watched?). Only this class writes them; `forget()` after the storage is wiped.
   */
  #all: Stored | undefined;

  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
  }

  /** A copy: callers may change it. */
  get all(): Stored {
    return { ...this.#stored };
  }

  at(name: DeadlineName): number | undefined {
    return this.#stored[name];
  }

  get #stored(): Stored {
    this.#all ??= this.#storage.kv.get<Stored>(KEY) ?? {};
    return this.#all;
  }

  /** The storage was wiped (`deleteAll`): read it again next time. */
  forget() {
    this.#all = undefined;
  }

  /** Sets (or moves) one deadline. */
  async set(name: DeadlineName, at: number) {
    await this.#save({ ...this.all, [name]: at });
  }

  async clear(name: DeadlineName) {
    const all = this.all;
    if (all[name] === undefined) return;
    delete all[name];
    await this.#save(all);
  }

  /**
   * Called from `alarm()`: removes and returns the deadlines that have passed (earliest first),
   * and sets the alarm for the next one.
   */
  async takeDue(now = Date.now()): Promise<DeadlineName[]> {
    const all = this.all;
    const due = (Object.entries(all) as [DeadlineName, number][])
      .filter(([, at]) => at <= now)
      .sort((a, b) => a[1] - b[1])
      .map(([name]) => name);
    for (const name of due) delete all[name];
    await this.#save(all);
    return due;
  }

  async #save(all: Stored) {
    this.#all = all;
    const times = Object.values(all);
    if (times.length === 0) {
      this.#storage.kv.delete(KEY);
      await this.#storage.deleteAlarm();
      return;
    }
    this.#storage.kv.put(KEY, all);
    await this.#storage.setAlarm(Math.min(...times));
  }
}
