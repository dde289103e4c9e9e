/**
 * Deadlines for many keys with one timer. Keys added with the same timeout expire in insertion
 * order, so a Map (which keeps insertion order) is already sorted by deadline: adding, removing
 * and expiring are O(1) each, and 100,000 held requests cost one armed timer, not 100,000.
 * @module
 */
export class ExpiryQueue<K> {
  readonly #deadlines = new Map<K, number>();
  readonly #timeoutMs: number;
  readonly #onExpire: (key: K) => void;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number, onExpire: (key: K) => void, now: () => number = Date.now) {
    this.#timeoutMs = timeoutMs;
    this.#onExpire = onExpire;
    this.#now = now;
  }

  get size(): number {
    return this.#deadlines.size;
  }

  /** (Re)starts the countdown for `key`. */
  add(key: K): void {
    this.#deadlines.delete(key);
    const deadline = this.#now() + this.#timeoutMs;
    this.#deadlines.set(key, deadline);
    if (this.#timer === undefined) this.#arm(deadline);
  }

  delete(key: K): void {
    this.#deadlines.delete(key);
  }

  clear(): void {
    this.#deadlines.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(deadline: number): void {
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, deadline - this.#now()));
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#now();
    for (const [key, deadline] of this.#deadlines) {
      if (deadline > now) {
        this.#arm(deadline);
        return;
      }
      this.#deadlines.delete(key);
      this.#onExpire(key);
    }
  }
}
