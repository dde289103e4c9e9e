/**
 * What a transport is to the client (src/client/client.ts): the frames it carries, the calls it
 * makes on its host (the client) and the calls the client makes on it. Each wire protocol's
 * transport (transports/*.ts) implements `Transport` against a `TransportHost`.
 * @module
 */
import type { BackoffOptions } from './backoff.js';
import type { ClientError } from './errors.js';
import type { ServerLimits } from './limits.js';

export type TransportName = 'websocket' | 'lpio';

/** Credentials merged into every request: headers, and fields of the top-level JSON body. */
export interface AuthParts {
  readonly headers?: Record<string, string>;
  readonly body?: Record<string, unknown>;
}

/** One client → server data message as a transport carries it. */
export interface OutgoingFrame {
  readonly id: string;
  readonly data: unknown;
  /** A path (starts with "/") or a recipient address. */
  readonly channel?: string;
  readonly urgent?: boolean;
  readonly reliable?: boolean;
}

/** One server → client data message as a transport hands it over. */
export interface IncomingFrame {
  readonly id: string;
  readonly data: unknown;
  readonly channel?: string;
  readonly sender?: string;
}

/** How the server ended a session (the close-reason table in docs/errors.md). */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly reconnect: boolean;
}

/**
 * What a transport reports to its client. Calls may stop the transport (`stop()` from inside a
 * callback); a transport checks that it still runs after each call.
 */
export interface TransportHost {
  /** The session id to present, if any. */
  clientId(): string | undefined;
  /** The session's public address, once known. */
  address(): string | undefined;
  /** The server told us the address of the session we resumed (LPIO `describe`). */
  described(address: string): void;
  auth(): AuthParts;
  /** The server assigned an id and/or (re)opened a session: inbound ids restart at 1. */
  session(set: { readonly id?: string; readonly address?: string }): void;
  /** A request or connection succeeded. */
  success(): void;
  /** The connection was lost, or a request failed for a network reason. The transport keeps trying. */
  interrupted(reason: string): void;
  /** The next attempt goes in `delay` ms. */
  retryIn(delay: number, attempt: number): void;
  /** A data message arrived (the transport acks it whatever the client does with it). */
  message(frame: IncomingFrame): void;
  /** The server acked one of our messages. */
  ack(id: string): void;
  /** These messages are on the wire now (counts an attempt). */
  sending(ids: readonly string[]): void;
  /** These messages went in a request that failed without an answer; they go again with the same ids. */
  retrying(ids: readonly string[]): void;
  /** The server refused these messages (their promises reject; not reported as 'error'). */
  rejected(ids: readonly string[], error: ClientError): void;
  /** Whether a message still goes on the wire (false once delivered or given up). */
  pending(id: string): boolean;
  /** Errors that belong to no message. */
  error(error: ClientError): void;
  /** The server ended the session. */
  closed(info: CloseInfo): void;
  /** Retrying cannot help (401, 403): the transport has stopped. */
  fatal(error: ClientError): void;
  /** The transport never got through and has stopped: try the next one. */
  blocked(reason: string): void;
}

/** A wire protocol. `websocket` and `sse` transports implement this too. */
export interface Transport {
  readonly name: TransportName;
  /** Starts connecting; no-op when running. */
  start(): void;
  /** Stops at once: aborts what is in flight, clears timers. Unsent frames stay buffered. */
  stop(): void;
  /** Queues one message; `urgent` ones skip the batching window. */
  push(frame: OutgoingFrame): void;
  /**
   * Queues again messages the server asked to have later (SB_ERR_ACKS_PENDING), in the order
   * given, ahead of the ones queued since.
   */
  requeue(frames: readonly OutgoingFrame[]): void;
  /** Forgets a queued message that was given up (it may already be on the wire). */
  cancel(id: string): void;
  /** What the server accepts per request or frame, as it last announced (its defaults before). */
  readonly limits: ServerLimits;
}

export interface TransportSettings {
  readonly url: string;
  readonly responseTimeout: number;
  readonly batchWindow: number;
  readonly backoff: BackoffOptions;
}
