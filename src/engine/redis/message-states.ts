/**
 * The `onState` listeners of messages one node sent through the Redis engine.
 * @module
 */
import type { MessageId, MessageState, MessageStateListener } from '../../core/types.js';

interface Entry {
  readonly listener: MessageStateListener;
  /** The epoch the message was sent to; undefined until a call carrying it was answered. */
  epoch: string | undefined;
}

/**
 * Listeners keyed by origin ("<node>:<key>", stored with the message so its states come back to
 * this node from any node). Each remembers the epoch its message went to: when the node leaves
 * that epoch, the message is gone with the old data, and its listener hears `dropped`, once.
 */
export class StateListeners {
  readonly #node: string;
  readonly #max: number;
  readonly #entries = new Map<string, Entry>();
  #keys = 0;

  constructor(node: string, max: number) {
    this.#node = node;
    this.#max = max;
  }

  /** Registers the listener of a message about to be sent; returns the origin to store with it. */
  add(listener: MessageStateListener): string {
    const origin = `${this.#node}:${(++this.#keys).toString(36)}`;
    this.#entries.set(origin, { listener, epoch: undefined });
    // Bounded: a listener whose message outlives this many newer ones is forgotten.
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
    return origin;
  }

  /**
   * A call carrying these messages went to `epoch` (answered, or failed after it may have run
   * there). When the node has left that epoch meanwhile, they are gone already.
   */
  sentTo(origins: readonly string[], epoch: string, current: string, at: number): void {
    for (const origin of origins) {
      const entry = this.#entries.get(origin);
      if (!entry) continue;
      entry.epoch = epoch;
      if (epoch !== current) this.#drop(origin, entry, at);
    }
  }

  /** The call carrying these messages failed before storing anything: nobody will report on them. */
  forget(origins: readonly string[]): void {
    for (const origin of origins) this.#entries.delete(origin);
  }

  state(origin: string, state: MessageState, at: number, id: MessageId | undefined): void {
    const entry = this.#entries.get(origin);
    if (!entry) return;
    if (state === 'delivered' || state === 'dropped') this.#entries.delete(origin);
    entry.listener(state, at, id);
  }

  /**
   * The node now works in `current`: messages sent to any other epoch are gone. Messages whose
   * call is still out are kept; `sentTo` settles them when it returns.
   */
  dropOutside(current: string, at: number): void {
    for (const [origin, entry] of [...this.#entries]) {
      if (entry.epoch !== undefined && entry.epoch !== current) this.#drop(origin, entry, at);
    }
  }

  #drop(origin: string, entry: Entry, at: number): void {
    this.#entries.delete(origin);
    entry.listener('dropped', at, undefined);
  }
}
