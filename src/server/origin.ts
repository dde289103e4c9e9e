/**
 * Which web pages may talk to the protocols: a browser sends `Origin` with every cross-site
 * request and WebSocket upgrade, along with the user's cookies. Without this check a page on
 * `https://evil.example` could open `/ws` as its visitor and publish as them (cross-site
 * WebSocket hijacking). Allowed: requests without `Origin` (not from a browser page, so not
 * carrying a victim's cookies unasked), the server's own origin (the `Origin` host is the `Host`
 * the request was sent to), and the configured list. CORS answers follow the same list.
 * @module
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { SwitchboardError, quote } from '../core/errors.js';

export type OriginVerdict =
  /** No `Origin`: not a browser page's request. */
  | 'none'
  /** A page of this server's own origin. */
  | 'same'
  /** A page of a listed origin: answered with CORS headers. */
  | 'listed'
  | 'refused';

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' };

export class OriginPolicy {
  readonly #listed = new Set<string>();
  readonly #any: boolean;

  /**
   * `allowed`: origins such as `https://app.example.com` (scheme, host and port; no path), or
   * `*` for any page (only for services whose auth never rides on cookies). Throws SB_ERR_CONFIG.
   */
  constructor(allowed: readonly string[] = []) {
    if (!Array.isArray(allowed))
      throw new SwitchboardError('SB_ERR_CONFIG', 'allowedOrigins must be a list of origins');
    let any = false;
    for (const entry of allowed as unknown[]) {
      if (entry === '*') {
        any = true;
        continue;
      }
      this.#listed.add(normalize(entry));
    }
    this.#any = any;
  }

  check(req: IncomingMessage): OriginVerdict {
    const origin = req.headers.origin;
    if (origin === undefined) return 'none';
    if (sameHost(origin, req.headers.host)) return 'same';
    if (this.#any || this.#listed.has(origin.toLowerCase())) return 'listed';
    return 'refused';
  }

  /** The error for a refused origin (403 SB_ERR_BAD_ORIGIN). */
  static refusal(req: IncomingMessage): SwitchboardError {
    return new SwitchboardError(
      'SB_ERR_BAD_ORIGIN',
      `pages of origin ${quote(req.headers.origin)} may not use this server (allowedOrigins)`,
    );
  }

  /** CORS headers for a listed origin's actual request. */
  static corsHeaders(req: IncomingMessage): OutgoingHttpHeaders {
    return {
      'access-control-allow-origin': req.headers.origin,
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'retry-after',
      vary: 'Origin',
    };
  }

  /** The answer to a listed origin's preflight (OPTIONS) request. */
  static preflightHeaders(req: IncomingMessage): OutgoingHttpHeaders {
    const requested = req.headers['access-control-request-headers'];
    return {
      ...OriginPolicy.corsHeaders(req),
      'access-control-allow-methods': 'GET, POST',
      // The page's own headers (LPIO-Client, Authorization…): the origin is trusted with them.
      ...(typeof requested === 'string' && { 'access-control-allow-headers': requested.slice(0, 1024) }),
      'access-control-max-age': '600',
      'content-length': '0',
    };
  }
}

/** `Origin` is `scheme://host[:port]`; its host (port dropped when it is the scheme's default) against `Host`. */
function sameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file: pages) or garbage
  }
  const expected = host.toLowerCase();
  const port = DEFAULT_PORTS[url.protocol];
  const withoutDefault =
    port !== undefined && expected.endsWith(`:${port}`) ? expected.slice(0, -port.length - 1) : expected;
  return url.host === withoutDefault || url.host === expected;
}

function normalize(entry: unknown): string {
  if (typeof entry !== 'string') {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `allowedOrigins entries must be strings, got ${quote(entry)}`,
    );
  }
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `allowedOrigins entry ${quote(entry)} is not an origin like https://app.example.com`,
    );
  }
  if (
    url.origin === 'null' ||
    url.pathname !== '/' ||
    url.search !== '' ||
    url.hash !== '' ||
    entry.endsWith('/')
  ) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `allowedOrigins entry ${quote(entry)} must be a scheme, host and optional port only, like https://app.example.com`,
    );
  }
  return url.origin.toLowerCase();
}
