/**
 * The gate in front of every Redis command of an engine: after a (re)connection nothing may run
 * before the resync has checked which data the connection leads to.
 * @module
 */
import type { SwitchboardError } from '../../core/errors.js';
import { unavailable } from './replies.js';

/**
 * Runs `check` on request, one at a time (asked again while one runs, it runs once more after it),
 * and holds commands until one has passed. When the last check failed, the next command starts a
 * new one while the connection is up (`connected`); while it is down, commands go and fail fast.
 */
export class ResyncGate {
  readonly #check: () => Promise<void>;
  readonly #connected: () => boolean;
  readonly #onError: (error: SwitchboardError) => void;
  #running: Promise<void> | undefined;
  #wanted = false;
  #passed = false;
  #stopped = false;

  constructor(
    check: () => Promise<void>,
    connected: () => boolean,
    onError: (error: SwitchboardError) => void,
  ) {
    this.#check = check;
    this.#connected = connected;
    this.#onError = onError;
  }

  /**
   * Checks again before any other command runs. Call it synchronously where a new connection
   * becomes ready, so no command can slip in first. Resolves once a check has passed.
   */
  request(): Promise<void> {
    this.#wanted = true;
    this.#passed = false;
    if (!this.#running) {
      this.#running = this.#drain();
      // Reported once here; every command waiting at the gate fails with the same error.
      this.#running.catch((error: unknown) => this.#onError(unavailable(error)));
    }
    return this.#running;
  }

  /**
   * What a command must wait for, or undefined when it may be sent now. Callers loop until it is
   * undefined and then send without awaiting anything else, so no connection can open unchecked
   * in between:
   * `for (let wait = gate.pending(); wait; wait = gate.pending()) await wait;`
   */
  pending(): Promise<void> | undefined {
    if (this.#running) return this.#running;
    // The last check failed on a connection that is still up (Redis was loading, say).
    if (!this.#passed && !this.#stopped && this.#connected()) return this.request();
    return undefined;
  }

  stop(): void {
    this.#stopped = true;
  }

  async #drain(): Promise<void> {
    // The caller stores this promise as #running before the `finally` below can clear it.
    await Promise.resolve();
    try {
      let failure: unknown;
      while (this.#wanted && !this.#stopped) {
        this.#wanted = false;
        failure = undefined;
        try {
          await this.#check();
        } catch (error) {
          failure = error;
        }
      }
      if (failure !== undefined) throw unavailable(failure);
      this.#passed = !this.#stopped;
    } finally {
      this.#running = undefined;
    }
  }
}
