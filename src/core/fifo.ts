/**
 * An array-backed queue with O(1) amortized push and shift: `Array#shift` is O(n), which turns a
 * busy session queue quadratic. Items before `#head` are dead and are compacted away lazily.
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  /**
   * Slots held, live and dead: what the queue costs in memory. Dead slots are compacted away once
   * there are more than 1,024 of them and more dead than live, so this stays under
   * `length + max(1024, length) + 1` while a shift stays O(1) amortized.
   */
  get held(): number {
    return this.#items.length;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes every item for which `drop` returns true; O(n), meant for rare eviction passes. */
  removeWhere(drop: (item: T) => boolean): T[] {
    const removed: T[] = [];
    const kept: T[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i] as T;
      (drop(item) ? removed : kept).push(item);
    }
    this.#items = kept;
    this.#head = 0;
    return removed;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as T;
  }

  clear(): T[] {
    const all = [...this];
    this.#items = [];
    this.#head = 0;
    return all;
  }
}
