/**
 * Exponential backoff with jitter (seed 000: "a reference implementation is backo"):
 * delay = min(min * factor^attempt, max), then scaled by (1 ± random * jitter) and kept within
 * [0, max]. A success resets the attempt counter.
 * @module
 */

export interface BackoffOptions {
  /** First delay, ms. Default 100. */
  readonly min?: number;
  /** Largest delay, ms; reaching it means "disconnected" (seed 000). Default 10000. */
  readonly max?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /** 0..1: each delay varies by up to this fraction either way. Default 0.5. */
  readonly jitter?: number;
  /**
   * "Full jitter": each delay is uniform in [0, the exponential delay], which spreads a crowd of
   * reconnecting clients best (AWS Architecture Blog, "Exponential Backoff and Jitter"). Overrides
   * `jitter`. Default false.
   */
  readonly full?: boolean;
}

export const DEFAULT_BACKOFF = Object.freeze({ min: 100, max: 10_000, factor: 2, jitter: 0.5 });

export class Backoff {
  readonly min: number;
  readonly max: number;
  readonly factor: number;
  readonly jitter: number;
  readonly full: boolean;
  readonly #random: () => number;
  #attempts = 0;
  #reachedMax = false;

  /** `random` returns a number in [0, 1) (tests pass a fixed one). Throws RangeError on bad options. */
  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.min = options.min ?? DEFAULT_BACKOFF.min;
    this.max = options.max ?? DEFAULT_BACKOFF.max;
    this.factor = options.factor ?? DEFAULT_BACKOFF.factor;
    this.jitter = options.jitter ?? DEFAULT_BACKOFF.jitter;
    this.full = options.full === true;
    check('min', this.min, Number.isFinite(this.min) && this.min >= 0, '>= 0');
    check('max', this.max, Number.isFinite(this.max) && this.max >= this.min, `>= min (${this.min})`);
    check('factor', this.factor, Number.isFinite(this.factor) && this.factor >= 1, '>= 1');
    check('jitter', this.jitter, this.jitter >= 0 && this.jitter <= 1, 'between 0 and 1');
    this.#random = random;
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Whether the last `next()` reached `max` before jitter (seed 000's "disconnected" point). */
  get reachedMax(): boolean {
    return this.#reachedMax;
  }

  /** The delay before the next attempt, in whole ms; counts one more attempt. */
  next(): number {
    const base = Math.min(this.min * Math.pow(this.factor, this.#attempts), this.max);
    this.#attempts++;
    this.#reachedMax = base >= this.max;
    if (this.full) return Math.round(this.#random() * base);
    if (this.jitter === 0) return Math.round(base);
    const deviation = (this.#random() * 2 - 1) * this.jitter;
    return Math.round(Math.min(this.max, Math.max(0, base * (1 + deviation))));
  }

  reset(): void {
    this.#attempts = 0;
    this.#reachedMax = false;
  }
}

function check(name: string, value: number, ok: boolean, rule: string): void {
  if (!ok) throw new RangeError(`backoff.${name} must be ${rule}, got ${String(value)}`);
}
