import type { Server } from 'node:http';

/**
 * One system under test behind the smallest interface the scenarios need. Each adapter lives in
 * `bench/systems/` and is used twice: its server half runs in the pinned server process, its client
 * half in the load process.
 */

/** `broadcast`: a message from one client goes to every other client. `echo`: back to its sender. */
export type ServerMode = 'broadcast' | 'echo';

export interface ServerHandle {
  close(): Promise<void>;
}

export interface ClientHandle {
  /** Sends one payload (a short ASCII string) to the server. */
  send(payload: string): void;
  close(): void;
}

export interface BenchSystem {
  /** Stable name used on the command line and in results, e.g. `socketio-ws`. */
  readonly name: string;
  /** The npm package whose version the results quote. */
  readonly pkg: string;
  /** `websocket` systems take part in `fanout` by default, `polling` ones in `longpoll`. */
  readonly kind: 'websocket' | 'polling';
  /**
   * Attaches the system to an HTTP server that the harness created and will listen with (so that the
   * harness counts requests the same way for every system). Resolves when it can take clients.
   */
  startServer(server: Server, mode: ServerMode): Promise<ServerHandle>;
  /**
   * Connects one client to `baseUrl` (`http://127.0.0.1:PORT`) and resolves once it would receive a
   * broadcast sent from now on. `onMessage` gets each payload exactly as it was sent. `mode` is the
   * server's mode, for systems whose clients address broadcast and echo differently.
   */
  connect(baseUrl: string, onMessage: (payload: string) => void, mode?: ServerMode): Promise<ClientHandle>;
}

/**
 * Switchboard's settings in every benchmark: its defaults, but with the per-address limits off.
 * The load generator is one address (127.0.0.1) opening thousands of connections and sessions,
 * which is exactly what those limits exist to refuse; a real deployment counts them per client
 * (behind a proxy, per forwarded address). The peers have no such limits.
 */
export const BENCH_SETTINGS = Object.freeze({
  maxSocketsPerAddress: 0,
  maxConnectionsPerAddress: 0,
  requestsPerSecondPerAddress: 0,
  sessionsPerMinutePerAddress: 0,
  maxSessionsPerAddress: 0,
});
