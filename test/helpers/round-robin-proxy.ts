/**
 * A plain round-robin load balancer for cluster tests, deliberately without sticky sessions: each
 * HTTP request and each WebSocket upgrade goes to the next target in turn, so consecutive polls of
 * one session land on different nodes and the engine has to make that work. Like a health-checking
 * LB it skips a target that refuses the connection, so a killed node looks like a real outage
 * rather than a wall of 502s. It has no timeouts of its own: long polls may be held for minutes.
 * Always close it (`await proxy.close()`) in `after`/`t.after`.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const MAX_BODY_BYTES = 1024 * 1024;

/** Per-hop headers (RFC 9110 §7.6.1): they describe one connection, never the one behind the proxy. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Errors that mean nothing reached the target's application, so another target may try. */
const DEAD_TARGET = new Set(['ECONNREFUSED', 'ECONNRESET']);

export interface RoundRobinProxy {
  /** e.g. http://127.0.0.1:45678 */
  readonly origin: string;
  url(path: string): string;
  /**
   * One entry per HTTP request or upgrade, in arrival order: the index (into the targets at the
   * time) of the target that served it, after any retries; -1 if every target failed.
   */
  readonly picks: number[];
  /** Replaces the targets; the rotation starts again at the first one. */
  setTargets(targets: string[]): void;
  /** Closes the server and destroys every open socket, long polls and WebSockets included. */
  close(): Promise<void>;
}

interface Target {
  readonly host: string;
  readonly port: number;
}

function parseTarget(origin: string): Target {
  const url = new URL(origin);
  if (url.protocol !== 'http:') throw new Error(`the proxy speaks plain HTTP only, not ${origin}`);
  // URL keeps the brackets of an IPv6 literal; net.connect wants the bare address.
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 80) };
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

export async function startRoundRobinProxy(targets: string[]): Promise<RoundRobinProxy> {
  let current = targets.map(parseTarget);
  let turn = 0;
  const picks: number[] = [];
  const sockets = new Set<Duplex>();

  function track(socket: Duplex): void {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  }

  /** The first target to try for the next request, and its slot in `picks`. */
  function nextTurn(): { first: number; slot: number; pool: Target[] } {
    const first = current.length === 0 ? 0 : turn++ % current.length;
    picks.push(first);
    return { first, slot: picks.length - 1, pool: current };
  }

  const server = createServer((req, res) => {
    req.on('error', () => res.destroy());
    res.on('error', () => req.destroy());
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) {
        chunks.push(chunk);
        return;
      }
      tooLarge = true;
      // Answer now and drop the connection: reading the rest of an oversized upload is pointless.
      res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' });
      res.end('request body over 1 MiB\n');
      res.once('finish', () => req.socket.destroy());
    });
    req.on('end', () => {
      if (tooLarge) return;
      forward(req, res, Buffer.concat(chunks));
    });
  });
  // Node's defaults would cut a long poll or a slow stream; a test proxy must not.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.timeout = 0;
  server.on('connection', track);
  server.on('clientError', (_error, socket) => socket.destroy());

  function forward(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const { first, slot, pool } = nextTurn();
    const headers: OutgoingHttpHeaders = requestHeaders(req.headers);
    if (body.length > 0 || req.headers['content-length'] !== undefined || req.headers['transfer-encoding'])
      headers['content-length'] = body.length;
    // A fresh connection per request, closed after it: a backend never sees two clients' requests
    // on one socket, and a killed backend cannot leave a stale pooled socket behind.
    headers.connection = 'close';

    const attempt = (tries: number): void => {
      if (res.destroyed) return;
      if (tries >= pool.length) {
        picks[slot] = -1;
        res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
        res.end('no target answered\n');
        return;
      }
      const index = (first + tries) % pool.length;
      const target = pool[index] as Target;
      picks[slot] = index;
      const upstream = httpRequest({
        host: target.host,
        port: target.port,
        method: req.method,
        path: req.url,
        headers,
        agent: false,
      });
      upstream.on('socket', track);
      let responded = false;
      upstream.on('error', (error) => {
        if (!responded && DEAD_TARGET.has(errorCode(error) ?? '')) return attempt(tries + 1);
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
          res.end(`target failed: ${error.message}\n`);
        } else {
          res.destroy();
        }
      });
      upstream.on('response', (reply) => {
        responded = true;
        reply.on('error', () => res.destroy());
        // A reply cut short upstream must reach the client as a cut, not as a complete body.
        reply.on('close', () => {
          if (!reply.complete) res.destroy();
        });
        res.writeHead(reply.statusCode ?? 502, reply.statusMessage, responseHeaders(reply.rawHeaders));
        // Headers go out now: an SSE stream or a held poll may not send a body byte for a while.
        res.flushHeaders();
        reply.pipe(res);
      });
      // The client gave up (an aborted long poll): the backend must see it go too.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.end(body);
    };
    attempt(0);
  }

  server.on('upgrade', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    track(client);
    client.on('error', () => client.destroy());
    const { first, slot, pool } = nextTurn();
    // Raw headers, untouched: the handshake (key, version, extensions) belongs to the two ends.
    let requestHead = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
      requestHead += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    requestHead += '\r\n';

    const attempt = (tries: number): void => {
      if (client.destroyed) return;
      if (tries >= pool.length) {
        picks[slot] = -1;
        client.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      const index = (first + tries) % pool.length;
      const target = pool[index] as Target;
      picks[slot] = index;
      const upstream: Socket = connect(target.port, target.host);
      track(upstream);
      let connected = false;
      const onClientClose = () => upstream.destroy();
      client.once('close', onClientClose);
      upstream.on('error', (error) => {
        if (!connected && DEAD_TARGET.has(errorCode(error) ?? '')) {
          client.off('close', onClientClose);
          return attempt(tries + 1);
        }
        upstream.destroy();
        client.destroy();
      });
      upstream.once('connect', () => {
        connected = true;
        upstream.on('close', () => client.destroy());
        upstream.write(requestHead);
        if (head.length > 0) upstream.write(head);
        client.pipe(upstream);
        upstream.pipe(client);
      });
    };
    attempt(0);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    url: (path: string) => new URL(path, origin).href,
    picks,
    setTargets(next: string[]) {
      current = next.map(parseTarget);
      turn = 0;
    },
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      return closed;
    },
  };
}

function requestHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming))
    if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  return headers;
}

/** Raw pairs, so repeated headers (set-cookie) survive; Node re-frames the body itself. */
function responseHeaders(raw: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!HOP_BY_HOP.has(name.toLowerCase())) kept.push(name, raw[i + 1] as string);
  }
  return kept;
}
