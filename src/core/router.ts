/**
 * Path router: a trie over path segments with Bayeux wildcards. Matching walks the path once and
 * at each level follows at most the literal child and the `*` child, collecting `**` subscribers
 * on the way, so its cost grows with path depth, not with the number of subscriptions.
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

class TrieNode<S> {
  children = new Map<string, TrieNode<S>>();
  /** Subscribers of the exact path ending at this node. */
  exact = new Set<S>();
  /** Subscribers of `<this node>/*`. */
  one = new Set<S>();
  /** Subscribers of `<this node>/**`. */
  any = new Set<S>();

  isEmpty(): boolean {
    return this.children.size === 0 && this.exact.size === 0 && this.one.size === 0 && this.any.size === 0;
  }
}

export class TrieRouter<S> implements Router<S> {
  #root = new TrieNode<S>();
  #patterns = 0;

  get size(): number {
    return this.#patterns;
  }

  add(pattern: PathPattern, subscriber: S): boolean {
    const { node, set } = this.#locate(parsePattern(pattern), true);
    if (!node || set.has(subscriber)) return false;
    if (set.size === 0) this.#patterns++;
    set.add(subscriber);
    return true;
  }

  remove(pattern: PathPattern, subscriber: S): boolean {
    const segments = parsePattern(pattern);
    const { set } = this.#locate(segments, false);
    if (!set.delete(subscriber)) return false;
    if (set.size === 0) {
      this.#patterns--;
      this.#prune(segments);
    }
    return true;
  }

  match(path: Path, visit: (subscriber: S) => void): void {
    const segments = parsePath(path);
    // The frontier holds at most the nodes reachable by literal steps; `*` subscribers are
    // collected one level up, so no node is entered for them.
    let node: TrieNode<S> | undefined = this.#root;
    for (let i = 0; i < segments.length; i++) {
      if (!node) return;
      for (const s of node.any) visit(s);
      if (i === segments.length - 1) for (const s of node.one) visit(s);
      node = node.children.get(segments[i] as string);
    }
    if (node) for (const s of node.exact) visit(s);
  }

  #locate(segments: string[], create: boolean): { node: TrieNode<S> | undefined; set: Set<S> } {
    const last = segments[segments.length - 1];
    const wildcard = last === '*' || last === '**' ? last : undefined;
    const steps = wildcard ? segments.slice(0, -1) : segments;
    let node: TrieNode<S> = this.#root;
    for (const segment of steps) {
      let child = node.children.get(segment);
      if (!child) {
        if (!create) return { node: undefined, set: new Set() };
        child = new TrieNode<S>();
        node.children.set(segment, child);
      }
      node = child;
    }
    const set = wildcard === '*' ? node.one : wildcard === '**' ? node.any : node.exact;
    return { node, set };
  }

  /** Drops empty nodes along `segments` so the trie does not grow with patterns no one holds. */
  #prune(segments: string[]): void {
    const last = segments[segments.length - 1];
    const steps = last === '*' || last === '**' ? segments.slice(0, -1) : segments;
    const trail: TrieNode<S>[] = [this.#root];
    for (const segment of steps) {
      const child = trail[trail.length - 1]?.children.get(segment);
      if (!child) return;
      trail.push(child);
    }
    for (let i = steps.length; i > 0; i--) {
      const node = trail[i] as TrieNode<S>;
      if (!node.isEmpty()) return;
      trail[i - 1]?.children.delete(steps[i - 1] as string);
    }
  }
}
