/**
 * The few static files the server itself serves: the demo page, the browser bundle of the SDK
 * (minified, with its source map) and the favicon. Read once and kept in memory with a strong
 * ETag (a hash of the bytes); a request whose `If-None-Match` names it gets 304 without a body.
 * The bundle's URL carries no version, so browsers keep it a short while (`max-age=300`) and then
 * revalidate; the page is revalidated every time (`no-cache`).
 * @module
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SwitchboardError } from '../core/errors.js';
import { sendError } from '../core/http.js';

const PUBLIC_DIR = new URL('../../../public/', import.meta.url);

export interface StaticFile {
  readonly name: string;
  readonly contentType: string;
  readonly cacheControl: string;
}

export const STATIC_FILES: Readonly<Record<string, StaticFile>> = Object.freeze({
  '/switchboard.js': {
    name: 'switchboard.js',
    contentType: 'text/javascript; charset=utf-8',
    cacheControl: 'public, max-age=300',
  },
  '/switchboard.js.map': {
    name: 'switchboard.js.map',
    contentType: 'application/json; charset=utf-8',
    cacheControl: 'public, max-age=300',
  },
  '/favicon.ico': {
    name: 'favicon.ico',
    contentType: 'image/x-icon',
    cacheControl: 'public, max-age=86400',
  },
});

export const DEMO_PAGE: StaticFile = Object.freeze({
  name: 'index.html',
  contentType: 'text/html; charset=utf-8',
  cacheControl: 'no-cache',
});

interface Loaded {
  readonly body: Buffer;
  readonly etag: string;
}

const cache = new Map<string, Promise<Loaded | undefined>>();

function load(name: string): Promise<Loaded | undefined> {
  let file = cache.get(name);
  if (!file) {
    file = readFile(new URL(name, PUBLIC_DIR)).then(
      (body) => ({ body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }),
      () => undefined,
    );
    cache.set(name, file);
  }
  return file;
}

/** Whether `If-None-Match` names this ETag (a list, or `*`). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}

/** Sends `public/<file.name>` (GET and HEAD); answers 404 with a JSON error if it is missing (not built). */
export async function sendStatic(req: IncomingMessage, res: ServerResponse, file: StaticFile): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const error = new SwitchboardError('SB_ERR_METHOD_NOT_ALLOWED', `${file.name} is read with GET`);
    sendError(res, error, { allow: 'GET, HEAD' });
    return;
  }
  const loaded = await load(file.name);
  if (res.headersSent || res.destroyed) return;
  if (!loaded) {
    sendError(res, new SwitchboardError('SB_ERR_NOT_FOUND', `${file.name} is missing; run "npm run build"`));
    return;
  }
  const headers = { etag: loaded.etag, 'cache-control': file.cacheControl };
  if (matches(req.headers['if-none-match'], loaded.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, {
    ...headers,
    'content-type': file.contentType,
    'content-length': loaded.body.length,
  });
  res.end(req.method === 'HEAD' ? undefined : loaded.body);
}
