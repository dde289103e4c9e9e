/**
 * Path router with Bayeux wildcards, in three hash maps keyed by the pattern's literal part:
 * exact paths (`/a/b`), one-segment wildcards by their parent (`/a` for `/a/*`) and any-depth
 * wildcards by their prefix (`/a` for `/a/**`). Matching a path of depth d costs one lookup in
 * the first two and d in the third (one per ancestor), whatever the number of subscriptions.
 *
 * Memory per pattern is one map entry and one set, whatever its depth: a trie with a node per
 * segment held about 12 KB for one unshared 16-segment pattern (1.2 MB for a session's 100),
 * since every node carried its own map and sets (docs/security.md, "Memory").
 * @module
 */
import { parsePath, parsePattern } from './paths.js';
import type { Path, PathPattern } from './types.js';

export interface Router<S> {
  /** Adds `subscriber` under `pattern`; returns false if it was already there. */
  add(pattern: PathPattern, subscriber: S): boolean;
  /** Removes `subscriber` from `pattern`; returns false if it was not there. */
  remove(pattern: PathPattern, subscriber: S): boolean;
  /** Calls `visit` once per (pattern, subscriber) pair that matches `path`. A subscriber matched by
   *  several patterns is visited once per pattern: callers dedupe (see MemoryEngine's publish stamp). */
  match(path: Path, visit: (subscriber: S) => void): void;
  /** Number of distinct patterns with at least one subscriber. */
  readonly size: number;
}

type Kind = 'exact' | 'one' | 'any';

/** The map a pattern lives in and its key there: `/a/*` → one, `/a`; `/**` → any, ''. */
function locate(pattern: PathPattern): [Kind, string] {
  const segments = parsePattern(pattern);
  const last = segments[segments.length - 1];
  if (last === '*') return ['one', pattern.slice(0, -2)];
  if (last === '**') return ['any', pattern.slice(0, -3)];
  return ['exact', pattern];
}

export class PathRouter<S> implements Router<S> {
  readonly #maps: Record<Kind, Map<string, Set<S>>> = { exact: new Map(), one: new Map(), any: new Map() };

  get size(): number {
    return this.#maps.exact.size + this.#maps.one.size + this.#maps.any.size;
  }

  add(pattern: PathPattern, subscriber: S): boolean {
    const [kind, key] = locate(pattern);
    const map = this.#maps[kind];
    let set = map.get(key);
    if (!set) {
      set = new Set();
      map.set(key, set);
    } else if (set.has(subscriber)) {
      return false;
    }
    set.add(subscriber);
    return true;
  }

  remove(pattern: PathPattern, subscriber: S): boolean {
    const [kind, key] = locate(pattern);
    const map = this.#maps[kind];
    const set = map.get(key);
    if (!set?.delete(subscriber)) return false;
    if (set.size === 0) map.delete(key);
    return true;
  }

  match(path: Path, visit: (subscriber: S) => void): void {
    parsePath(path);
    const { exact, one, any } = this.#maps;
    if (exact.size > 0) exact.get(path)?.forEach(visit);
    const parentEnd = path.lastIndexOf('/');
    if (one.size > 0) one.get(path.slice(0, parentEnd))?.forEach(visit);
    if (any.size === 0) return;
    // Every proper ancestor: '' (the root, for `/**`), then each prefix ending before a '/'.
    for (let end = 0; end !== -1; end = path.indexOf('/', end + 1)) {
      any.get(path.slice(0, end))?.forEach(visit);
    }
  }
}
