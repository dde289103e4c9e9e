/**
 * Path and pattern syntax (Bayeux channel names): `/` then segments of `[A-Za-z0-9_.~@:+=!-]`.
 * A pattern may end in `*` (exactly one more segment) or `**` (one or more segments).
 * Paths under `/meta/` are reserved for protocol commands (subscribe, unsubscribe).
 * @module
 */
import { SwitchboardError } from './errors.js';

export const MAX_PATH_LENGTH = 256;
export const MAX_PATH_DEPTH = 16;
const SEGMENT = /^[A-Za-z0-9_.~@:+=!-]+$/;

export const META_SUBSCRIBE = '/meta/subscribe';
export const META_UNSUBSCRIBE = '/meta/unsubscribe';

/** Splits and checks a path or pattern; returns its segments or an explanation of what is wrong. */
function parse(value: unknown, allowWildcards: boolean): string[] | string {
  if (typeof value !== 'string') return `must be a string, got ${typeof value}`;
  if (value.length > MAX_PATH_LENGTH) return `is longer than ${MAX_PATH_LENGTH} characters`;
  if (!value.startsWith('/')) return `must start with "/", got ${JSON.stringify(value)}`;
  const segments = value.slice(1).split('/');
  if (segments.length > MAX_PATH_DEPTH) return `has more than ${MAX_PATH_DEPTH} segments`;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    const last = i === segments.length - 1;
    if (segment === '*' || segment === '**') {
      if (!allowWildcards) return `may not contain wildcards, got ${JSON.stringify(value)}`;
      if (!last) return `may use "${segment}" only as its last segment, got ${JSON.stringify(value)}`;
      continue;
    }
    if (!SEGMENT.test(segment)) return `has an empty or invalid segment in ${JSON.stringify(value)}`;
  }
  return segments;
}

/** Returns the segments of a valid concrete path, or throws SB_ERR_BAD_PATH. */
export function parsePath(value: unknown): string[] {
  const result = parse(value, false);
  if (typeof result === 'string') throw new SwitchboardError('SB_ERR_BAD_PATH', `path ${result}`);
  return result;
}

/** Returns the segments of a valid pattern, or throws SB_ERR_BAD_PATH. */
export function parsePattern(value: unknown): string[] {
  const result = parse(value, true);
  if (typeof result === 'string') throw new SwitchboardError('SB_ERR_BAD_PATH', `pattern ${result}`);
  return result;
}

export function isMetaPath(path: string): boolean {
  return path === '/meta' || path.startsWith('/meta/');
}
