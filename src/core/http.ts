/**
 * HTTP plumbing every HTTP-based adapter shares: bounded body reading and JSON error replies.
 * Bad input never escapes an adapter: each fault becomes a status and `{error: {code, message}}`.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SwitchboardError, toSwitchboardError } from './errors.js';

/** Reads the whole body, refusing (413) as soon as it passes `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge(limit));
        // Stop reading; the reply is sent by the caller, and the socket is closed after it.
        req.pause();
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      // Most bodies arrive in one chunk: no copy then.
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(
        new SwitchboardError('SB_ERR_BAD_REQUEST', 'the request body could not be read', { cause: error }),
      );
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(limit: number): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_PAYLOAD_TOO_LARGE',
    `the request body is over the limit of ${limit} bytes`,
  );
}

/** Checks the media type of a request body (parameters such as charset are allowed). */
export function requireContentType(req: IncomingMessage, expected: string): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== expected) {
    throw new SwitchboardError(
      'SB_ERR_UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be ${expected}, got ${req.headers['content-type'] ?? 'none'}`,
    );
  }
}

/** Reads and parses a JSON body; 400 for bad JSON, 413 past the limit. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (error) {
    throw new SwitchboardError(
      'SB_ERR_BAD_JSON',
      `the request body is not valid JSON: ${(error as Error).message}`,
    );
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';
const NO_HEADERS: Record<string, string> = Object.freeze({});

export function sendJson(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = NO_HEADERS,
): void {
  if (res.headersSent || res.destroyed) return;
  const length = Buffer.byteLength(body);
  res.writeHead(
    status,
    headers === NO_HEADERS
      ? ['content-type', JSON_TYPE, 'cache-control', 'no-store', 'content-length', String(length)]
      : { 'content-type': JSON_TYPE, 'cache-control': 'no-store', 'content-length': length, ...headers },
  );
  res.end(body);
}

/** The one place a transport-level fault becomes an HTTP reply. */
export function sendError(res: ServerResponse, error: unknown, headers: Record<string, string> = {}): void {
  const failure = toSwitchboardError(error);
  const extra: Record<string, string> = { ...headers };
  // After a refused body the rest of it is unread: close rather than reuse the socket.
  if (failure.status === 413) extra.connection = 'close';
  // The store behind the engine is away for now: a retry shortly may succeed (the client backs off).
  if (failure.code === 'SB_ERR_ENGINE_UNAVAILABLE') extra['retry-after'] = '1';
  sendJson(res, failure.status, JSON.stringify(failure.toJSON()), extra);
}
