/**
 * The engine boundary: all session state lives behind it, so a node keeps only its live
 * connections. `MemoryEngine` serves one process; a Redis engine lets many stateless nodes serve
 * one cluster (any node answers any request of any session).
 *
 * Every implementation must pass test/contract/engine.contract.ts unchanged, and guarantee:
 * - ids: per session, message ids are assigned when a message is first taken for sending, start
 *   at 1 and increase by 1; a retransmission keeps its id. Assigning and storing is atomic per
 *   session, so two nodes taking for one session never reorder, duplicate or lose a message.
 * - bounds: a session holds at most `limits.maxQueueMessages` unsent + unacked messages and
 *   `limits.maxQueueBytes` bytes of them. Unreliable messages are dropped first; a reliable
 *   message that does not fit is never dropped silently (see `EnqueueResult`).
 * - fan-out: `publish` costs one engine step, however many sessions match; the payload is shared.
 * - wake-ups: after anything makes a session's next `take` non-empty, `events.wake(id)` is called
 *   (on every node in a cluster) so the node holding its connection can flush.
 * - one writer: a take that claims a session for a connection makes every later take for an older
 *   connection of it come back `superseded`, on whichever node that connection lives, so two
 *   connections never split one session's ids between them.
 * - receive and route are one step: a client message is marked received together with its
 *   publish, direct send or (un)subscribe, so a failure between the two can neither lose it (a
 *   retry would be taken for a duplicate) nor apply it twice.
 * @module
 */
import type { CloseReasonName } from '../core/close-reasons.js';
import type { SwitchboardError } from '../core/errors.js';
import type {
  Address,
  Batch,
  ClientMessageId,
  MessageId,
  Outbound,
  Path,
  PathPattern,
  ProtocolName,
  QueueSnapshot,
  SessionId,
  SessionInfo,
} from '../core/types.js';

export interface EngineLimits {
  /** Unsent plus unacked messages a session may hold. */
  readonly maxQueueMessages: number;
  /** Bytes of unsent plus unacked messages a session may hold. */
  readonly maxQueueBytes: number;
  /** Sent but unacked messages; past it `take` sends nothing new until acks arrive (seed 001: 200). */
  readonly maxUnacked: number;
  /** Unreliable messages are admitted only while the queue is below this fraction of its bounds. */
  readonly unreliableHighWater: number;
  /**
   * Past this fraction of its bounds a session is under pressure: the engine says so
   * (`events.pressure`) on every message it queues, so a live stream that cannot keep up is let go
   * (`slow`) while its queue still has room, before the hard bound ends the session (`overflow`).
   */
  readonly pressureHighWater: number;
  /** Unreliable messages left unsent this long are discarded instead of sent late. */
  readonly unreliableTtlMs: number;
  /** Recent client message ids remembered per session to drop duplicates. */
  readonly dedupeWindow: number;
  /**
   * What those ids may hold, counted as `idCost()` each (their characters at two bytes, plus
   * overhead): long ids make the window shorter, never the session bigger. Pending acks are
   * bounded by half of both (`pendingAckBounds`).
   */
  readonly dedupeWindowBytes: number;
  /** Sessions the engine holds at most; opening one more fails with SB_ERR_TOO_MANY_SESSIONS. */
  readonly maxSessions: number;
  /** Subscriptions one session may hold. */
  readonly maxSubscriptions: number;
  /** A session not seen (no request, no live connection) for this long is closed as `inactive`. */
  readonly inactivityTimeoutMs: number;
  /** How often the engine looks for inactive sessions. */
  readonly sweepIntervalMs: number;
  /** How many closed-session ids are remembered (with their reason) to tell a returning client. */
  readonly tombstones: number;
}

/** Counters the engine adds to; the hub owns and reports them. */
export interface EngineCounters {
  count(name: EngineCounterName, n?: number): void;
}

export type EngineCounterName =
  'retransmits' | 'discarded' | 'dropped' | 'delivered' | 'duplicates' | 'overflows' | 'acks_in';

export interface EngineEvents {
  /** The session has something to take. `urgent`: skip the batching window. */
  wake(sessionId: SessionId, urgent: boolean): void;
  /** The engine closed a session by itself (inactivity, overflow, id exhaustion). */
  sessionClosed(session: SessionInfo, reason: CloseReasonName): void;
  /** A message was queued for a session past `pressureHighWater` of its bounds. */
  pressure?(sessionId: SessionId): void;
  /**
   * Another node closed the session (`sessionClosed` fired there): a connection of it on this
   * node must end. Only shared engines call it.
   */
  closedElsewhere?(sessionId: SessionId, reason: CloseReasonName): void;
  /**
   * Wake-ups may have been missed (a shared engine lost its event stream for a while): every live
   * connection should take again.
   */
  wakeAll?(): void;
  /** The engine's backing store failed outside any request (a lost connection, a failed sweep). */
  engineError?(error: SwitchboardError): void;
  /**
   * The store lost every session at once (a Redis restart without its data): what a node counts
   * per session (the per-address limits) starts over. Only shared engines call it.
   */
  sessionsLost?(): void;
}

export interface EngineContext {
  readonly events: EngineEvents;
  readonly limits: EngineLimits;
  readonly counters: EngineCounters;
  /** The clock; tests may pass a fake one. */
  readonly now: () => number;
}

export interface SessionInit {
  /** Must be unique; the engine refuses an id that is already open. */
  readonly id: SessionId;
  readonly address: Address;
  readonly protocol: ProtocolName;
  readonly user: string | undefined;
}

export type SessionLookup =
  | {
      readonly status: 'open';
      readonly session: SessionInfo;
      /**
       * With a claim that has `instance` and `seq`: true when the request is older than the last
       * claim of the same client instance and so did not claim (see Claim). It must not replace
       * the connection of the newer request.
       */
      readonly stale?: boolean;
    }
  | { readonly status: 'closed'; readonly reason: CloseReasonName }
  | { readonly status: 'unknown' };

export type EnqueueResult =
  /** Queued; a wake-up follows. */
  | 'queued'
  /** An unreliable message was discarded (queue under pressure); counted as discarded. */
  | 'discarded'
  /** A reliable message did not fit and `onFull` was 'reject': nothing was queued. */
  | 'full'
  /** A reliable message did not fit and `onFull` was 'close': the session was closed as `overflow`. */
  | 'closed'
  | 'no_session';

export interface PublishResult {
  /** Sessions the path matched (the sender excluded). */
  readonly matched: number;
  readonly queued: number;
  /** Unreliable deliveries discarded under pressure. */
  readonly discarded: number;
  /** Sessions closed as `overflow` because a reliable message did not fit. */
  readonly overflowed: number;
}

export interface TakeOptions {
  /** Include sent-but-unacked messages again (the previous writes may have been lost). */
  readonly resend: boolean;
  /**
   * With `resend`: only the unacked messages with a greater id (default 0: all of them). A resend
   * takes at most one batch; the next take goes on after the last id that batch carried, so a tail
   * longer than a batch is sent again whole (with cumulative acks, a skipped one would be lost).
   */
  readonly resendAfter?: MessageId;
  readonly maxMessages: number;
  readonly maxBytes: number;
}

/**
 * A request claiming a session for its connection (see Engine.getSession). `instance` and `seq`,
 * when the client sends them (our SDK does), order the requests of one client instance: an older
 * request that reaches the engine after a newer one (it went through a slower node) does not
 * claim. Without them, arrival order decides.
 */
export interface Claim {
  readonly owner: string;
  /**
   * The identity making the request. A session opened by a user is claimed only by that user's
   * requests, so a request refused by `assertOwner` afterwards has not disturbed the session.
   */
  readonly user: string | undefined;
  readonly instance?: string | undefined;
  readonly seq?: number | undefined;
}

export interface TakeRequest {
  readonly sessionId: SessionId;
  readonly resend: boolean;
  /** See TakeOptions.resendAfter. */
  readonly resendAfter?: MessageId;
  /** The connection taking (unique in the cluster). Without it the take is anonymous (tests, tools). */
  readonly owner?: string;
  /** Make `owner` the session's one writer: takes by any other owner come back `superseded`. */
  readonly claim?: boolean;
}

/** What the core does with one client message, applied by the engine as it marks the id received. */
export type Route =
  | { readonly kind: 'publish'; readonly path: Path; readonly message: Outbound }
  | { readonly kind: 'direct'; readonly to: SessionId; readonly message: Outbound }
  | { readonly kind: 'subscribe' | 'unsubscribe'; readonly patterns: readonly PathPattern[] }
  /** For the application only (the hub emits it): nothing for the engine to route. */
  | { readonly kind: 'server' };

export interface Received {
  readonly id: ClientMessageId;
  readonly route: Route;
}

/** What `receive` did with one client message. */
export type ReceiveOutcome = 'new' | 'duplicate' | 'too_many_subscriptions' | 'acks_pending';

/**
 * How many acks (and how many bytes of their ids, `idCost` each) a session holds for its client
 * at most: half the dedupe window. Exactly once rests on one rule: every id whose ack the client
 * may not have yet is still in the window, so its retry is a duplicate. The window keeps the ids
 * that arrived (or were acked again) most recently; the pending acks are among them as long as
 * they and the acks of one take still in flight (at most as many again: a take carries at most
 * this many) fit the window. Past the bound a message is refused (`acks_pending`), not dropped,
 * and its client sends it again once it has taken its acks.
 */
export function pendingAckBounds(limits: Pick<EngineLimits, 'dedupeWindow' | 'dedupeWindowBytes'>): {
  readonly count: number;
  readonly bytes: number;
} {
  return { count: Math.ceil(limits.dedupeWindow / 2), bytes: Math.ceil(limits.dedupeWindowBytes / 2) };
}

export interface Engine {
  readonly name: string;
  /** Called once by the hub before anything else. */
  start(context: EngineContext): Promise<void>;
  /** Stops timers and releases resources; sessions are kept where the engine is shared. */
  close(): Promise<void>;

  openSession(init: SessionInit): Promise<SessionInfo>;
  /**
   * Finds a session. `claim` makes that connection the session's one writer now, in the order
   * requests reach the engine: a long poll claims as it arrives, so an older poll of the session
   * that has not taken yet can no longer take (and swallow acks meant for the newer one).
   */
  getSession(id: SessionId, claim?: Claim): Promise<SessionLookup>;
  /** The session id behind a public address. */
  findByAddress(address: Address): Promise<SessionId | undefined>;
  /** Marks sessions as seen now (a request arrived, or a live connection is still up). */
  touch(ids: readonly SessionId[]): Promise<void>;
  /** Closes a session: unsent and unacked messages are reported dropped. False if it was not open. */
  closeSession(id: SessionId, reason: CloseReasonName): Promise<boolean>;
  /** Open sessions per protocol (for stats). */
  sessionCount(): Promise<Map<ProtocolName, number>>;

  /**
   * Records client messages as received and routes each new one (publish to its path except the
   * sender, direct send closing an overflowing recipient, (un)subscribe), in order, as one step.
   * Returns, per message, `new`, `duplicate` (not routed again, and remembered as recent again),
   * `too_many_subscriptions` (a subscribe that would take the session past `maxSubscriptions`) or
   * `acks_pending` (the session holds `pendingAckBounds` of acks already). A refused message is
   * not recorded, not acked, not routed, while the messages around it go on. Every new or
   * duplicate id is queued as an ack for the next `take`, which carries at most
   * `pendingAckBounds` of them (`more` when some are left).
   */
  receive(sessionId: SessionId, messages: readonly Received[]): Promise<ReceiveOutcome[]>;
  /**
   * Gives back acks taken for a connection that was gone before they could be written: they join
   * the session's pending acks, their ids are remembered as recent again (so a retry is still a
   * duplicate), and the session is woken.
   */
  requeueAcks(sessionId: SessionId, acks: readonly ClientMessageId[]): Promise<void>;
  /**
   * Marks messages acked by the client; returns how many were outstanding. When the unacked tail
   * was full (a take stopped there) and messages wait behind it, wakes the session.
   */
  ack(sessionId: SessionId, ids: readonly MessageId[]): Promise<number>;
  /** Cumulative ack: everything up to and including `upTo` (WebChannel's AID); wakes as `ack` does. */
  ackUpTo(sessionId: SessionId, upTo: MessageId): Promise<number>;

  enqueue(sessionId: SessionId, message: Outbound, onFull: 'reject' | 'close'): Promise<EnqueueResult>;
  /** Queues `message` for every session subscribed to a pattern matching `path`, except `except`. */
  publish(path: Path, message: Outbound, except: SessionId | undefined): Promise<PublishResult>;
  /**
   * Takes what a connection should write now: pending acks, then (with `resend`) the unacked
   * tail, then unsent messages (urgent first) as new ids. Marks them sent. `more` says the batch
   * limits left messages behind; a full unacked tail does not count (acks make room, and the hub
   * takes again after acks).
   */
  take(sessionId: SessionId, options: TakeOptions): Promise<Batch>;
  /**
   * `take` for many sessions in one step (one flush pass of the hub after a fan-out): one call and
   * one promise for all of them, one round trip for a remote engine. Batches come in request order.
   */
  takeMany(requests: readonly TakeRequest[], limits: Omit<TakeOptions, 'resend'>): Promise<Batch[]>;

  /** Adds patterns; throws SB_ERR_BAD_PATH, or SB_ERR_TOO_MANY_SUBSCRIPTIONS past `maxSubscriptions`. */
  subscribe(sessionId: SessionId, patterns: readonly PathPattern[]): Promise<void>;
  unsubscribe(sessionId: SessionId, patterns: readonly PathPattern[]): Promise<void>;
  subscriptions(sessionId: SessionId): Promise<PathPattern[]>;

  /** The session's queue with message states, for the application and tests. */
  inspect(sessionId: SessionId): Promise<QueueSnapshot | undefined>;
}
