/**
 * The server: a Hub with its protocol adapters mounted on HTTP, plus the health check, the SDK
 * bundle and (optionally) the demo page. It can listen by itself or attach to an existing
 * `http.Server`, keeping that server's own request handlers for every other URL.
 * @module
 */
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';
import { SwitchboardError, quote, toSwitchboardError } from '../core/errors.js';
import { rejectUpgrade, sendError, sendJson } from '../core/http.js';
import { Hub, type HubOptions } from '../core/hub.js';
import { unmapped } from '../core/peer.js';
import type { ProtocolAdapter } from '../core/protocol.js';
import { createLpioAdapter, type LpioOptions } from '../protocols/lpio/index.js';
import { createWebSocketAdapter, type WebSocketOptions } from '../protocols/websocket/index.js';
import { OriginPolicy } from './origin.js';
import { DEMO_PAGE, STATIC_FILES, sendStatic } from './static.js';

export interface SwitchboardOptions extends HubOptions {
  /** LPIO options, or false to not serve LPIO. Mounted at `/lpio`. */
  readonly lpio?: LpioOptions | false;
  /** WebSocket options, or false to not serve WebSocket. Mounted at `/ws`. */
  readonly websocket?: WebSocketOptions | false;
  /** Serve the demo chat page at `/` (the CLI does; a library user usually has its own). */
  readonly demo?: boolean;
  /**
   * Production mode (seed 002: no unencrypted or unauthenticated connections). Always on when
   * `NODE_ENV=production`, whatever this says. The server then refuses to start without an auth
   * hook and without TLS (`tls`, or `trustProxy` naming the TLS-terminating proxy), and answers a
   * plaintext request or upgrade with 403 `SB_ERR_TLS_REQUIRED`.
   */
  readonly production?: boolean;
  /** Certificate and key: `listen()` serves HTTPS and WSS. */
  readonly tls?: TlsOptions;
  /**
   * Origins whose pages may use the protocols besides the server's own (e.g.
   * `['https://app.example.com']`), or `['*']` for any. Requests without `Origin` are not
   * browser pages and are unaffected. docs/security.md, "Origin policy".
   */
  readonly allowedOrigins?: readonly string[];
}

export interface TlsOptions {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  readonly ca?: string | Buffer;
}

/** Production mode is on when asked for, and always under NODE_ENV=production. */
export function isProduction(requested: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return requested === true || env.NODE_ENV === 'production';
}

export interface ListenOptions {
  readonly port?: number;
  readonly host?: string;
}

/** How long in-flight requests may finish after close() before their sockets are closed. */
const CLOSE_GRACE_MS = 250;

type Route = (req: IncomingMessage, res: ServerResponse) => void;
type UpgradeRoute = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
type UpgradeListener = (this: Server, req: IncomingMessage, socket: Duplex, head: Buffer) => void;

function pathOf(url = '/'): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

export class Switchboard extends Hub {
  readonly #routes = new Map<string, Route>();
  readonly #upgrades = new Map<string, UpgradeRoute>();
  readonly #adapters: ProtocolAdapter[] = [];
  /** Paths of protocol adapters: in production mode only encrypted requests reach them. */
  readonly #adapterPaths = new Set<string>();
  readonly #servers = new Set<Server>();
  readonly #owned = new Set<Server>();
  readonly production: boolean;
  readonly #tls: TlsOptions | undefined;
  readonly #origins: OriginPolicy;
  #warnedForwarded = false;

  constructor(options: SwitchboardOptions = {}) {
    super(options);
    this.production = isProduction(options.production);
    this.#tls = options.tls;
    this.#origins = new OriginPolicy(options.allowedOrigins);
    if (this.production) {
      if (!options.auth) {
        throw new SwitchboardError(
          'SB_ERR_CONFIG',
          'production mode needs an auth hook: every connection must be authenticated',
        );
      }
      if (!options.tls && !this.proxies.enabled) {
        throw new SwitchboardError(
          'SB_ERR_CONFIG',
          'production mode needs TLS: give tls {key, cert}, or trustProxy listing the TLS-terminating proxy',
        );
      }
    }
    if (options.lpio !== false) this.mount('/lpio', createLpioAdapter(this, options.lpio ?? {}));
    if (options.websocket !== false) this.mount('/ws', createWebSocketAdapter(this, options.websocket ?? {}));
    this.#routes.set('/healthz', (_req, res) => {
      const status = this.closing ? 503 : 200;
      sendJson(res, status, JSON.stringify({ status: this.closing ? 'draining' : 'ok' }));
    });
    for (const [path, file] of Object.entries(STATIC_FILES)) {
      this.#routes.set(path, (req, res) => void sendStatic(req, res, file));
    }
    if (options.demo) this.#routes.set('/', (req, res) => void sendStatic(req, res, DEMO_PAGE));
  }

  /** Serves `adapter` at `path` (exact match, any query string). */
  mount(path: string, adapter: ProtocolAdapter): void {
    const handle = adapter.handleRequest?.bind(adapter);
    const upgrade = adapter.handleUpgrade?.bind(adapter);
    if (!handle && !upgrade)
      throw new SwitchboardError('SB_ERR_CONFIG', `adapter ${adapter.name} serves no HTTP requests`);
    if (handle) this.#routes.set(path, handle);
    this.#adapterPaths.add(path);
    if (upgrade) this.#upgrades.set(path, upgrade);
    this.#adapters.push(adapter);
  }

  /**
   * Handles an upgrade if it is one of ours; returns false otherwise. Before the adapter sees it:
   * production's TLS rule, the origin policy and the client address's limits.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const route = this.#upgrades.get(pathOf(req.url));
    if (!route) return false;
    socket.on('error', () => undefined);
    let release: () => void;
    try {
      this.#guard(req);
      release = this.addressLimits.admit(this.clientAddress(req));
    } catch (error) {
      this.countRejected();
      rejectUpgrade(socket, toSwitchboardError(error));
      return true;
    }
    // An open WebSocket holds its connection slot until its socket closes.
    socket.once('close', release);
    route(req, socket, head);
    return true;
  }

  /**
   * Handles a request if it is one of ours; returns false otherwise (for frameworks that chain).
   * Protocol requests pass production's TLS rule, the origin policy (CORS preflights are answered
   * here) and the client address's limits first.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = pathOf(req.url);
    const route = this.#routes.get(path);
    if (!route) return false;
    if (this.#adapterPaths.has(path)) {
      let release: () => void;
      let verdict: ReturnType<OriginPolicy['check']>;
      try {
        verdict = this.#guard(req);
        // Preflights too count against the address's limits: they are requests like any other.
        release = this.addressLimits.admit(this.clientAddress(req));
      } catch (error) {
        this.countRejected();
        sendError(res, error);
        return true;
      }
      // A held long poll holds its slot until it is answered (or its client goes).
      res.once('close', release);
      if (!this.#warnedForwarded && req.headers['x-forwarded-for'] !== undefined) this.#warnForwarded(req);
      if (verdict === 'listed') {
        for (const [name, value] of Object.entries(OriginPolicy.corsHeaders(req)))
          res.setHeader(name, value as string);
        if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
          res.writeHead(204, OriginPolicy.preflightHeaders(req));
          res.end();
          return true;
        }
      }
    }
    try {
      route(req, res);
    } catch (error) {
      sendError(res, error);
    }
    return true;
  }

  /**
   * A proxy we were not told about: every client behind it looks like the proxy and shares one
   * address's limits. Said once, since it is a deployment mistake, not a client's.
   */
  #warnForwarded(req: IncomingMessage): void {
    const peer = unmapped(req.socket.remoteAddress ?? '');
    if (this.proxies.trusts(peer)) return;
    this.#warnedForwarded = true;
    this.warn(
      new SwitchboardError(
        'SB_ERR_CONFIG',
        `requests from ${peer} carry X-Forwarded-For, but ${peer} is not in trustProxy: its clients share that one address's limits, and their forwarded addresses are ignored (docs/security.md, "Behind a proxy")`,
      ),
    );
  }

  /** Production's TLS rule and the origin policy; throws the refusal. */
  #guard(req: IncomingMessage): ReturnType<OriginPolicy['check']> {
    // Node's own check answers a bare 400; ours says why, like every other refusal.
    if (req.headers.host === undefined && req.httpVersion === '1.1') {
      throw new SwitchboardError('SB_ERR_BAD_REQUEST', 'an HTTP/1.1 request needs a Host header');
    }
    if (!this.#secure(req)) throw tlsRequired();
    const verdict = this.#origins.check(req);
    if (verdict === 'refused') throw OriginPolicy.refusal(req);
    return verdict;
  }

  /**
   * Serves on an existing server. Its own request listeners keep every URL we do not serve
   * (as socket.io and ws do); with none, those answer 404.
   */
  attach(server: Server): this {
    if (this.production && !(server instanceof TlsServer) && !this.proxies.enabled) {
      throw new SwitchboardError(
        'SB_ERR_CONFIG',
        'production mode: attach to an https.Server, or set trustProxy to the TLS-terminating proxy',
      );
    }
    // Sockets per peer address (maxSocketsPerAddress), before any byte is read: what holds file
    // descriptors. A trusted proxy carries many clients, whose limits apply per request instead.
    server.on('connection', (socket: Socket) => {
      const peer = unmapped(socket.remoteAddress ?? '');
      if (this.proxies.trusts(peer)) return;
      const release = this.addressLimits.socketOpened(peer);
      if (!release) {
        socket.destroy();
        return;
      }
      socket.once('close', release);
    });
    const others = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.handle(req, res)) return;
      if (others.length === 0) {
        sendError(
          res,
          new SwitchboardError('SB_ERR_NOT_FOUND', `nothing is served at ${quote(req.url ?? '/')}`),
        );
        return;
      }
      for (const listener of others) listener.call(server, req, res);
    });
    const otherUpgrades = server.listeners('upgrade') as UpgradeListener[];
    server.removeAllListeners('upgrade');
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.handleUpgrade(req, socket, head)) return;
      if (otherUpgrades.length === 0) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      for (const listener of otherUpgrades) listener.call(server, req, socket, head);
    });
    this.#servers.add(server);
    return this;
  }

  /** Starts the hub and a server of its own. Resolves with the bound address (port 0 picks one). */
  async listen(options: ListenOptions = {}): Promise<AddressInfo> {
    await this.start();
    const headersTimeout = this.settings.holdTimeoutMs + 10_000;
    const timeouts: ServerOptions = {
      headersTimeout,
      // A backstop for bodies no adapter reads (ours time out after bodyTimeoutMs, precisely).
      // Node counts it until the request has arrived: held long polls are not affected.
      requestTimeout: this.settings.bodyTimeoutMs > 0 ? headersTimeout + this.settings.bodyTimeoutMs : 0,
      // How often Node checks those two (default 30 s): slow headers end near their deadline.
      connectionsCheckingInterval: 1_000,
      // Checked in #guard, with a JSON answer like every other refusal.
      requireHostHeader: false,
    };
    const server = this.#tls ? createHttpsServer({ ...this.#tls, ...timeouts }) : createServer(timeouts);
    // Held long polls last up to the hold timeout; keep idle sockets a little longer than that.
    server.keepAliveTimeout = this.settings.holdTimeoutMs + 5_000;
    server.on('clientError', answerClientError);
    this.attach(server);
    this.#owned.add(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  /**
   * Graceful close: held requests are answered (LPIO state 3), then servers we own stop. Sockets
   * still open after a short grace (a client's spare keep-alive socket that never sends a request
   * would otherwise hold `server.close()` until the headers timeout) are closed.
   */
  override async close(): Promise<void> {
    for (const adapter of this.#adapters) adapter.close?.();
    await super.close();
    await Promise.all(
      [...this.#owned].map(
        (server) =>
          new Promise<void>((resolve) => {
            const grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
            server.close(() => {
              clearTimeout(grace);
              resolve();
            });
            server.closeIdleConnections();
          }),
      ),
    );
    this.#owned.clear();
    this.#servers.clear();
  }

  /** Outside production mode, always; in it: TLS on our socket, or a trusted proxy says so. */
  #secure(req: IncomingMessage): boolean {
    return !this.production || this.proxies.encrypted(req);
  }
}

/**
 * Node's HTTP parser refused a request (malformed, headers too large, a request or headers
 * timeout): answer with our JSON error and close, as every other fault is answered.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  const inProgress = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || error.code === 'ECONNRESET' || inProgress?.headersSent === true) {
    socket.destroy();
    return;
  }
  const failure =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new SwitchboardError('SB_ERR_REQUEST_TIMEOUT', 'the request did not arrive in time')
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? new SwitchboardError('SB_ERR_HEADERS_TOO_LARGE', 'the request headers are over the limit')
        : new SwitchboardError('SB_ERR_BAD_REQUEST', 'the request is not valid HTTP/1.1');
  const body = JSON.stringify(failure.toJSON());
  socket.end(
    `HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status] ?? 'Error'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1_000).unref();
}

function tlsRequired(): SwitchboardError {
  return new SwitchboardError('SB_ERR_TLS_REQUIRED', 'production mode accepts encrypted connections only');
}

export function createSwitchboard(options: SwitchboardOptions = {}): Switchboard {
  return new Switchboard(options);
}
