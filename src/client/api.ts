/**
 * The client's public types: its options, events and what they carry (src/client/client.ts).
 * @module
 */
import type { BackoffOptions } from './backoff.js';
import type { WebSocketConstructor } from './connection.js';
import type { ClientError } from './errors.js';
import type { OutgoingState } from './outbox.js';
import type { AuthParts, CloseInfo, TransportName } from './transport.js';

export type ClientState = 'disconnected' | 'connecting' | 'connected';

export interface ClientOptions {
  /**
   * With `transport` (or neither): the endpoint, e.g. `http://127.0.0.1:8080/lpio` or `/lpio`.
   * With `transports`: the server, e.g. `http://127.0.0.1:8080` or `/`; each transport adds its path.
   */
  readonly url: string;
  /** One transport at `url`. Default `lpio`. */
  readonly transport?: TransportName;
  /**
   * Transports to try in this order, e.g. `['websocket', 'lpio']`. One that cannot run here (no
   * WebSocket class on Node 20) is skipped. The next is tried when one cannot connect at all
   * (refused, blocked by a proxy); that fallback is remembered per URL for 10 minutes (in
   * localStorage where there is one), and meanwhile the first one is probed in the background and
   * taken back once it gets through.
   */
  readonly transports?: readonly TransportName[];
  /** Paths of the transports under `url` when `transports` is used. Default `/ws` and `/lpio`. */
  readonly paths?: Partial<Record<TransportName, string>>;
  /** The WebSocket class, where there is no global one (Node 20: `import { WebSocket } from 'ws'`). */
  readonly WebSocket?: WebSocketConstructor;
  /** WebSocket make-before-break rotation interval, randomized in [min, max] ms. Default 10–15 min. */
  readonly rotate?: { readonly min: number; readonly max: number } | false;
  /** A static client id (session id); otherwise the server assigns one. */
  readonly id?: string;
  /** Merged into every request; a function is called once per request (fresh tokens). */
  readonly auth?: AuthParts | (() => AuthParts);
  /**
   * A send without an ack within this many ms becomes `retrying`: it stays queued with its id and
   * goes again on every reconnect. Default 1000 (seed 000).
   */
  readonly ackTimeout?: number;
  /** A send not acked within this many ms is dropped: it rejects with SB_ERR_DELIVERY_TIMEOUT. Default 300000 (5 min). */
  readonly deliveryTimeout?: number;
  /**
   * Sends waiting for their acks (offline ones included), at most: one more is refused at once with
   * SB_ERR_SEND_BUFFER_FULL. Default 1000; keep it under half the server's `dedupeWindow`.
   */
  readonly maxPending?: number;
  /** What those sends' JSON may hold, in bytes. Default 1 MiB. */
  readonly maxPendingBytes?: number;
  /**
   * While on a fallback, the first transport is probed after `min` ms, then twice as long each time
   * up to `max`; false never probes. Default 30 s to 10 min.
   */
  readonly probe?: { readonly min: number; readonly max: number } | false;
  /** A request without a response within this many ms is aborted and retried. Default 25000. */
  readonly responseTimeout?: number;
  /**
   * At most one held request is aborted for new messages per this many ms: the first message after a
   * quiet window goes at once, later ones gather. Default 20.
   */
  readonly batchWindow?: number;
  readonly backoff?: BackoffOptions;
}

export interface SendOptions {
  /** Publish to this path (starts with "/"). */
  readonly path?: string;
  /** Send directly to the session with this address. */
  readonly to?: string;
  /** Skip the batching window. */
  readonly urgent?: boolean;
  /** Default true; false lets the server drop it under pressure. */
  readonly reliable?: boolean;
}

export interface ClientMessage {
  /** The server's id for it: increasing per session. */
  readonly id: number;
  readonly data: unknown;
  /** The path it was published to; absent for direct messages. */
  readonly path?: string;
  /** The sender's address; absent when the application sent it. */
  readonly from?: string;
}

export interface SessionInfo {
  readonly id: string;
  readonly address: string;
  /** True when the server kept the session (its subscriptions and queue) across a reconnect. */
  readonly resumed: boolean;
  /**
   * For a new session that replaces one the server ended: why it ended (e.g. 4104 `lost`: a
   * cluster's Redis lost its data; messages queued for the old session are gone).
   */
  readonly previous?: CloseInfo;
}

export interface OutgoingSnapshot {
  readonly id: string;
  readonly state: OutgoingState;
  /** When it entered `state` (ms since epoch). */
  readonly at: number;
  /** Requests that carried it so far. */
  readonly attempts: number;
}

export interface ClientEvents {
  /** The client now uses this transport (at connect, after a fallback, and when moving back). */
  transport: [name: TransportName];
  connected: [];
  /** The connection was lost or a request failed for a network reason; the client keeps trying. */
  disconnected: [reason?: string];
  /** The next attempt to get through goes in `delay` ms (`attempt` counts failures in a row). */
  reconnecting: [next: { delay: number; attempt: number }];
  message: [message: ClientMessage];
  error: [error: ClientError];
  state: [state: ClientState];
  session: [session: SessionInfo];
  messageState: [change: { id: string; state: OutgoingState; at: number }];
}
