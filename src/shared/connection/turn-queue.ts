/**
 * Work to be done at the end of this turn (setImmediate), or after a delay, for many items under
 * one immediate or timer for all of them: a broadcast that gives a thousand sockets output makes
 * one immediate, not a thousand, and no closure per item. Items added while the queue runs wait
 * for the next round, as a setImmediate made then would.
 */
export class TurnQueue<T> {
  #items: T[] = [];
  /** The array of the round before, emptied: reused, so that a round of a thousand items does not grow a new one. */
  #spare: T[] = [];
  readonly #handle: (item: T) => void;
  readonly #delayMs: number;
  readonly #run = (): void => {
    const items = this.#items;
    this.#items = this.#spare;
    let next = 0;
    try {
      while (next < items.length) this.#handle(items[next++]!);
    } finally {
      // A throw is the caller's to see, as from any immediate; the items behind it still run.
      for (; next < items.length; next++) this.add(items[next]!);
      items.length = 0;
      this.#spare = items;
    }
  };

  /**
   * `handle` is called once per `add`, in the order added; the caller keeps an item from being
   * added twice in one round when that matters. `delayMs` > 0: a round runs that long after the
   * first item of it was added, instead of at the end of the turn.
   */
  constructor(handle: (item: T) => void, delayMs = 0) {
    this.#handle = handle;
    this.#delayMs = delayMs;
  }

  add(item: T): void {
    if (this.#items.push(item) !== 1) return;
    if (this.#delayMs > 0) setTimeout(this.#run, this.#delayMs);
    else setImmediate(this.#run);
  }
}
