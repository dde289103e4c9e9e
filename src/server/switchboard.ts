/**
 * The server: a Hub with its protocol adapters mounted on HTTP, plus the health check, the SDK
 * bundle and (optionally) the demo page. It can listen by itself or attach to an existing
 * `http.Server`, keeping that server's own request handlers for every other URL.
 * @module
 */
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { SwitchboardError } from '../core/errors.js';
import { sendError, sendJson } from '../core/http.js';
import { Hub, type HubOptions } from '../core/hub.js';
import type { ProtocolAdapter } from '../core/protocol.js';
import { createLpioAdapter, type LpioOptions } from '../protocols/lpio/index.js';
import { sendStatic } from './static.js';

export interface SwitchboardOptions extends HubOptions {
  /** LPIO options, or false to not serve LPIO. Mounted at `/lpio`. */
  readonly lpio?: LpioOptions | false;
  /** Serve the demo chat page at `/` (the CLI does; a library user usually has its own). */
  readonly demo?: boolean;
}

export interface ListenOptions {
  readonly port?: number;
  readonly host?: string;
}

/** How long in-flight requests may finish after close() before their sockets are closed. */
const CLOSE_GRACE_MS = 250;

type Route = (req: IncomingMessage, res: ServerResponse) => void;

export class Switchboard extends Hub {
  readonly #routes = new Map<string, Route>();
  readonly #servers = new Set<Server>();
  readonly #owned = new Set<Server>();

  constructor(options: SwitchboardOptions = {}) {
    super(options);
    if (options.lpio !== false) this.mount('/lpio', createLpioAdapter(this, options.lpio ?? {}));
    this.#routes.set('/healthz', (_req, res) => {
      const status = this.closing ? 503 : 200;
      sendJson(res, status, JSON.stringify({ status: this.closing ? 'draining' : 'ok' }));
    });
    this.#routes.set('/switchboard.js', (_req, res) => {
      void sendStatic(res, 'switchboard.js', 'text/javascript; charset=utf-8');
    });
    if (options.demo) {
      this.#routes.set('/', (_req, res) => {
        void sendStatic(res, 'index.html', 'text/html; charset=utf-8');
      });
    }
  }

  /** Serves `adapter` at `path` (exact match, any query string). */
  mount(path: string, adapter: ProtocolAdapter): void {
    const handle = adapter.handleRequest?.bind(adapter);
    if (!handle)
      throw new SwitchboardError('SB_ERR_CONFIG', `adapter ${adapter.name} serves no HTTP requests`);
    this.#routes.set(path, handle);
  }

  /**
   * Handles a request if it is one of ours; returns false otherwise (for frameworks that chain).
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const route = this.#routes.get(path);
    if (!route) return false;
    try {
      route(req, res);
    } catch (error) {
      sendError(res, error);
    }
    return true;
  }

  /**
   * Serves on an existing server. Its own request listeners keep every URL we do not serve
   * (as socket.io and ws do); with none, those answer 404.
   */
  attach(server: Server): this {
    const others = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.handle(req, res)) return;
      if (others.length === 0) {
        sendError(res, new SwitchboardError('SB_ERR_NOT_FOUND', `nothing is served at ${req.url ?? '/'}`));
        return;
      }
      for (const listener of others) listener.call(server, req, res);
    });
    this.#servers.add(server);
    return this;
  }

  /** Starts the hub and a server of its own. Resolves with the bound address (port 0 picks one). */
  async listen(options: ListenOptions = {}): Promise<AddressInfo> {
    await this.start();
    const server = createServer();
    // Held long polls last up to the hold timeout; keep idle sockets a little longer than that.
    server.keepAliveTimeout = this.settings.holdTimeoutMs + 5_000;
    server.headersTimeout = this.settings.holdTimeoutMs + 10_000;
    server.requestTimeout = 0;
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
}

export function createSwitchboard(options: SwitchboardOptions = {}): Switchboard {
  return new Switchboard(options);
}
