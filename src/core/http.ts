/**
 * HTTP plumbing every HTTP-based adapter shares: bounded body reading and JSON error replies.
 * Bad input never escapes an adapter: each fault becomes a status and `{error: {code, message}}`.
 * @module
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { SwitchboardError, quote, toSwitchboardError } from './errors.js';
import { ExpiryQueue } from './expiry-queue.js';
import { parseJson } from './json.js';

/**
 * Deadlines for requests still arriving (bodies, upgrades), with one timer for all of them: a
 * client that sends `Content-Length: 100` and then 10 bytes holds a socket only this long.
 */
export class RequestDeadlines {
  readonly #queue: ExpiryQueue<() => void> | undefined;

  /** `timeoutMs` 0: no deadline. */
  constructor(timeoutMs: number, now: () => number = Date.now) {
    this.#queue = timeoutMs > 0 ? new ExpiryQueue(timeoutMs, (expire) => expire(), now) : undefined;
  }

  /** Calls `expire` unless the returned function is called first. */
  start(expire: () => void): () => void {
    const queue = this.#queue;
    if (!queue) return noop;
    // A fresh function per deadline: the queue is keyed by identity.
    const key = () => expire();
    queue.add(key);
    return () => queue.delete(key);
  }

  clear(): void {
    this.#queue?.clear();
  }
}

function noop(): void {}

/**
 * Reads the whole body, refusing (413) as soon as it passes `limit` bytes, and (408) when it has
 * not fully arrived before its deadline.
 */
export function readBody(req: IncomingMessage, limit: number, deadlines?: RequestDeadlines): Promise<Buffer> {
  // NaN (no Content-Length: a chunked body) is never over; Node's parser admits digits only.
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    return Promise.reject(tooLarge(limit));
  }
  // A destroyed request may have emitted its 'close' already, and then nothing more will come:
  // refused here rather than waited for forever.
  if (req.destroyed)
    return Promise.reject(unreadable(new Error('the request was destroyed before its body was read')));
  // Every way out calls cleanup() first, which removes all four listeners and stops the deadline:
  // nothing can settle the promise a second time.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (error: SwitchboardError) => {
      cleanup();
      reject(error);
      // Stop reading; the reply is sent by the caller, and the socket is closed after it.
      req.pause();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        fail(tooLarge(limit));
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
      reject(unreadable(error));
    };
    // 'end' removes this listener (cleanup), so it hears only a close that came first: the client
    // went away mid-body, or the request was destroyed without an error. That includes a body that
    // had fully arrived (`req.complete`) but whose 'end' was still to come: it never will, and the
    // promise must not wait for it.
    const onClose = () => onError(new Error('the connection closed before the body was complete'));
    const cancel = deadlines?.start(() =>
      fail(
        new SwitchboardError(
          'SB_ERR_REQUEST_TIMEOUT',
          `the request body did not arrive in time (${size} of ${Number.isFinite(declared) ? declared : 'unknown'} bytes)`,
        ),
      ),
    );
    const cleanup = () => {
      cancel?.();
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** A body that stopped coming: the client went away, or the request was destroyed. */
function unreadable(cause: Error): SwitchboardError {
  return new SwitchboardError('SB_ERR_BAD_REQUEST', 'the request body could not be read', { cause });
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
      `Content-Type must be ${expected}, got ${req.headers['content-type'] === undefined ? 'none' : quote(req.headers['content-type'])}`,
    );
  }
}

/** Reads and parses a JSON body: 400 for bad JSON (or too deep, or out-of-range numbers), 413 past the limit, 408 too slow. */
export async function readJson(
  req: IncomingMessage,
  limit: number,
  deadlines?: RequestDeadlines,
): Promise<unknown> {
  const body = await readBody(req, limit, deadlines);
  return parseJson(body.toString('utf8'));
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

/** Headers that go with an error's status: close after a refused or timed-out body, when to retry. */
export function errorHeaders(failure: SwitchboardError): Record<string, string> {
  const headers: Record<string, string> = {};
  // After a refused or stalled body the rest of it is unread: close rather than reuse the socket.
  if (failure.status === 413 || failure.status === 408) headers.connection = 'close';
  // 429: the address is over a limit; 503: the engine is away, the node full or closing. A retry
  // later (or on another node) may pass.
  if (failure.retryAfter !== undefined) headers['retry-after'] = String(failure.retryAfter);
  else if (failure.code === 'SB_ERR_ENGINE_UNAVAILABLE' || failure.code === 'SB_ERR_SHUTTING_DOWN')
    headers['retry-after'] = '1';
  return headers;
}

/** The one place a transport-level fault becomes an HTTP reply. */
export function sendError(res: ServerResponse, error: unknown, headers: Record<string, string> = {}): void {
  const failure = toSwitchboardError(error);
  sendJson(res, failure.status, JSON.stringify(failure.toJSON()), { ...headers, ...errorHeaders(failure) });
}

/** Writes an HTTP error on a socket that was never upgraded (a refused WebSocket upgrade), and closes it. */
export function rejectUpgrade(socket: Duplex, error: unknown): void {
  if (socket.destroyed || socket.writableEnded) return;
  const failure = toSwitchboardError(error);
  const body = JSON.stringify(failure.toJSON());
  const extra = Object.entries(errorHeaders(failure))
    .filter(([name]) => name !== 'connection')
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status] ?? 'Error'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      extra +
      'Connection: close\r\n\r\n' +
      body,
  );
}
