/**
 * Names the Redis engine must never repeat, and the clean-up of what an epoch change leaves behind.
 *
 * - An epoch names a cluster's keyspace (`<prefix><epoch>:`). Epochs are random, never counted: a
 *   flush or a restart would reset a counter, and an epoch used twice would revive old data.
 * - Message ids are made by the node that sends the message, so Redis forgetting its data can
 *   never make an id come round again: no node's cache of decoded messages can answer for another
 *   message under an id it saw before.
 * @module
 */
import { randomBytes } from 'node:crypto';

/** A new epoch: 8 base64url characters (48 random bits). */
export function randomEpoch(): string {
  return randomBytes(6).toString('base64url');
}

/**
 * Message ids of one engine instance: a type letter, a tag random to the instance, and a counter
 * in base 36. Base64url has no '|' (queue entries are "mid|…") and the tag has a fixed length, so
 * the script can read the type from the first byte alone: 't' for a message whose states someone
 * listens to, 'm' otherwise.
 */
export class MessageIds {
  readonly #tag = randomBytes(6).toString('base64url');
  #count = 0;

  next(tracked: boolean): string {
    return `${tracked ? 't' : 'm'}${this.#tag}${(++this.#count).toString(36)}`;
  }
}

/** Keys per SCAN step: small enough that one step never holds Redis up noticeably. */
const SCAN_COUNT = '1000';
/** Pause between steps, so the deletion yields to the engine's own traffic. */
const STEP_MS = 10;
/** Pause after a failed step (Redis away): the scan starts over, since a cursor may not survive a restart. */
const RETRY_MS = 1_000;

export type SendCommand = (args: string[]) => Promise<unknown>;

/**
 * Deletes the keys of old epochs in the background: SCAN MATCH `<keyspace>*` and UNLINK, one
 * bounded step at a time on an unreferenced timer, until the cursor comes back to 0 or `stop()`.
 * A new epoch has already made the old keys unreachable; this only gives their memory back.
 */
export class KeyspaceSweeper {
  readonly #send: SendCommand;
  readonly #onError: (error: unknown) => void;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #stopped = false;

  constructor(send: SendCommand, onError: (error: unknown) => void) {
    this.#send = send;
    this.#onError = onError;
  }

  /** Keyspaces still being deleted. */
  get active(): number {
    return this.#timers.size;
  }

  /** Starts deleting every key that begins with `keyspace` (e.g. `sb:Xk3f9aQ2:`). */
  sweep(keyspace: string): void {
    if (this.#stopped || this.#timers.has(keyspace)) return;
    this.#schedule(keyspace, `${escapeGlob(keyspace)}*`, '0', 0);
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  #schedule(keyspace: string, match: string, cursor: string, delay: number): void {
    const timer = setTimeout(() => void this.#step(keyspace, match, cursor), delay);
    timer.unref();
    this.#timers.set(keyspace, timer);
  }

  async #step(keyspace: string, match: string, cursor: string): Promise<void> {
    let next = '0';
    let delay = STEP_MS;
    try {
      const [found, keys] = (await this.#send(['SCAN', cursor, 'MATCH', match, 'COUNT', SCAN_COUNT])) as [
        unknown,
        unknown[],
      ];
      if (keys.length > 0) await this.#send(['UNLINK', ...keys.map(String)]);
      next = String(found);
      if (next === '0') {
        this.#timers.delete(keyspace);
        return;
      }
    } catch (error) {
      if (this.#stopped) return;
      this.#onError(error);
      delay = RETRY_MS;
    }
    if (!this.#stopped) this.#schedule(keyspace, match, next, delay);
  }
}

/** SCAN MATCH is a glob: a prefix with `*`, `?`, `[` or `\` must match itself only. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
