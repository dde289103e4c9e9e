/**
 * A node's copy of the patterns anyone in the cluster subscribes to, for routing a publish on the
 * node (the script only checks that the copy is recent enough; see engine.lua's stalePatterns).
 * @module
 */
import { PathRouter } from '../../core/router.js';
import type { Path, PathPattern } from '../../core/types.js';

export class PatternRoutes {
  #router = new PathRouter<PathPattern>();
  readonly #known = new Set<PathPattern>();
  #version = 0;

  /** The last pattern change applied (Redis' `patver` when the copy is up to date). */
  get version(): number {
    return this.#version;
  }

  /** The patterns that match `path`, count first (the script's argument form). */
  matching(path: Path): string[] {
    const matched: string[] = [''];
    this.#router.match(path, (pattern) => matched.push(pattern));
    matched[0] = String(matched.length - 1);
    return matched;
  }

  /**
   * Applies one change in order. False for a gap (a change missed): the caller reloads the set.
   * Changes already applied are ignored.
   */
  change(version: number, change: '+' | '-', pattern: PathPattern): boolean {
    if (version <= this.#version) return true;
    if (version !== this.#version + 1) return false;
    this.#version = version;
    if (change === '+') {
      if (!this.#known.has(pattern)) {
        this.#known.add(pattern);
        this.#router.add(pattern, pattern);
      }
    } else if (this.#known.delete(pattern)) {
      this.#router.remove(pattern, pattern);
    }
    return true;
  }

  /** The whole set as Redis holds it at `version`. */
  replace(version: number, patterns: readonly PathPattern[]): void {
    const fresh = new Set(patterns);
    for (const pattern of this.#known) {
      if (!fresh.has(pattern)) {
        this.#known.delete(pattern);
        this.#router.remove(pattern, pattern);
      }
    }
    for (const pattern of fresh) {
      if (this.#known.has(pattern)) continue;
      this.#known.add(pattern);
      this.#router.add(pattern, pattern);
    }
    this.#version = version;
  }

  /**
   * Forgets everything (the data it was read from is gone). Version 0 is behind any keyspace that
   * has a pattern, so the next routing call is answered `stale` and the set is loaded again.
   */
  clear(): void {
    this.#router = new PathRouter<PathPattern>();
    this.#known.clear();
    this.#version = 0;
  }
}
