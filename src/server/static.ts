/**
 * The few static files the server itself serves: the demo page and the browser bundle of the SDK.
 * Read once and kept in memory; they are small and never change while the process runs.
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

const PUBLIC_DIR = new URL('../../../public/', import.meta.url);

const cache = new Map<string, Promise<Buffer | undefined>>();

function load(name: string): Promise<Buffer | undefined> {
  let file = cache.get(name);
  if (!file) {
    file = readFile(new URL(name, PUBLIC_DIR)).catch(() => undefined);
    cache.set(name, file);
  }
  return file;
}

/** Sends `public/<name>`; answers 404 with a JSON error if it is missing (for example, not built). */
export async function sendStatic(res: ServerResponse, name: string, contentType: string): Promise<void> {
  const body = await load(name);
  if (res.headersSent || res.destroyed) return;
  if (!body) {
    const message = `${name} is missing; run "npm run build"`;
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ error: { code: 'SB_ERR_NOT_FOUND', message } }));
    return;
  }
  res.writeHead(200, {
    'content-type': contentType,
    'content-length': body.length,
    'cache-control': 'no-cache',
  });
  res.end(body);
}
