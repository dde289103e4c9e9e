/**
 * A tiny typed event emitter that runs in browsers and Node alike (no `node:events`). A handler
 * that throws does not stop the others; the error goes to `onHandlerError`.
 * @module
 */

export type Handler<Args extends unknown[]> = (...args: Args) => void;

type AnyHandler = (...args: never[]) => void;

export class Emitter<Events extends Record<keyof Events, unknown[]>> {
  readonly #handlers = new Map<keyof Events, Set<AnyHandler>>();
  readonly #onHandlerError: (error: unknown, event: keyof Events) => void;

  constructor(onHandlerError: (error: unknown, event: keyof Events) => void = () => {}) {
    this.#onHandlerError = onHandlerError;
  }

  on<E extends keyof Events>(event: E, handler: Handler<Events[E]>): this {
    let set = this.#handlers.get(event);
    if (!set) {
      set = new Set();
      this.#handlers.set(event, set);
    }
    set.add(handler as unknown as AnyHandler);
    return this;
  }

  off<E extends keyof Events>(event: E, handler: Handler<Events[E]>): this {
    this.#handlers.get(event)?.delete(handler as unknown as AnyHandler);
    return this;
  }

  /** Calls each handler once, in the order added; handlers added during the emit wait for the next. */
  emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    const set = this.#handlers.get(event);
    if (!set || set.size === 0) return;
    for (const handler of [...set]) {
      try {
        (handler as unknown as Handler<Events[E]>)(...args);
      } catch (error) {
        this.#onHandlerError(error, event);
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.#handlers.get(event)?.size ?? 0;
  }
}
