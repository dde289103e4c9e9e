/**
 * What the hub asks the application and what it hands the adapters: the auth, permission and
 * session-open hooks, and the read-less `Connection` a protocol gives the hub to write to.
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { CloseReason } from './close-reasons.js';
import type { Batch, PathPattern, ProtocolName, SessionId, SessionInfo } from './types.js';

/**
 * What the core may do to a live connection; reading belongs to the adapter (centrifuge's
 * read-less Transport). A long-poll response is a one-shot connection: one write ends it.
 */
export interface Connection {
  readonly protocol: ProtocolName;
  /** One write ends it (a long-poll response); the hub detaches it after that write. */
  readonly oneShot: boolean;
  /** The first take for this connection re-sends the unacked tail (earlier writes may be lost). */
  readonly resend: boolean;
  /** The first flush writes even when there is nothing to send (a new session must learn its id at once). */
  readonly eager?: boolean;
  /**
   * Flush on the next turn instead of after the batching window: a stream writes each message as
   * its own frame, so waiting would add latency and save no writes. What is published in one turn
   * still goes in one flush.
   */
  readonly immediate?: boolean;
  /**
   * Writes one batch. Returns false when the connection wants no more for now (backpressure): the
   * hub then takes nothing more for it until the adapter calls `hub.writable()`.
   */
  write(batch: Batch): boolean;
  /** Ends the connection; the adapter maps the reason to its wire form. */
  close(reason: CloseReason): void;
  /** The client is gone already (its socket closed) though the adapter has not said so yet. */
  readonly closed?: boolean;
}

/** What the auth hook sees of a request or connection attempt. */
export interface AuthRequest {
  readonly protocol: ProtocolName;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /**
   * The client's network address: the socket's peer, or the forwarded client address when the
   * peer is a proxy listed in `trustProxy` (docs/security.md).
   */
  readonly remoteAddress: string | undefined;
  /** The parsed body, for protocols whose credentials travel in it (LPIO's "every request is signed"). */
  readonly body: unknown;
  /** The session the request claims, if any. */
  readonly sessionId: SessionId | undefined;
}

/** `false` rejects (403); `true` admits anonymously; `{ user }` admits as that identity. */
export type AuthResult = boolean | { readonly user?: string };
export type AuthHook = (request: AuthRequest) => AuthResult | Promise<AuthResult>;

export type Permission = 'publish' | 'subscribe' | 'send';
/** Per-path (or per-address) permission check; the default allows everything but reserved paths. */
export type AuthorizeHook = (
  action: Permission,
  target: string,
  session: SessionInfo,
) => boolean | Promise<boolean>;

/**
 * Called when a session opens. Return patterns to subscribe it to (LPIO's reference server gives
 * every client its channels this way), nothing, or `false` to refuse the session (`not_allowed`).
 */
export type SessionOpenHook = (
  session: SessionInfo,
) => readonly PathPattern[] | void | false | Promise<readonly PathPattern[] | void | false>;

/** Who a request comes from, as `hub.authenticate` found it. */
export interface Identity {
  /** The user the auth hook named; undefined for anonymous requests. */
  readonly user: string | undefined;
  /** The client's network address (see AuthRequest.remoteAddress): what per-address limits count. */
  readonly peer?: string | undefined;
}
