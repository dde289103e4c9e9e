/**
 * The hub: one per process. It owns the engine, the limits, the hooks and this node's live
 * connections, and it is the only place with session semantics. Protocol adapters translate
 * their wire format into the calls marked "adapter API" below and back; the application uses
 * the rest (on('message'), send, publish, subscribe, closeSession, stats).
 *
 * Node-local state is only what cannot be shared: live connections, their hold deadlines and
 * the set of sessions due for a flush. Everything about a session goes through the engine.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { AddressLimiter } from './address-limits.js';
import { closeReason, type CloseReason, type CloseReasonName } from './close-reasons.js';
import { SwitchboardError, toSwitchboardError } from './errors.js';
import { ExpiryQueue } from './expiry-queue.js';
import type {
  AuthHook,
  AuthRequest,
  AuthResult,
  AuthorizeHook,
  Connection,
  Identity,
  SessionOpenHook,
} from './hooks.js';
import { RequestDeadlines } from './http.js';
import { InboundChecks, type Prepared, type PreparedMessage, type Refusal } from './inbound.js';
import { isMetaPath, parsePath } from './paths.js';
import { TrustedProxies, type TrustProxy } from './peer.js';
import { resolveSettings, type HubSettings } from './settings.js';
import { Stats, type StatsSnapshot } from './stats.js';
import type {
  Batch,
  InboundMessage,
  MessageId,
  MessageStateListener,
  Path,
  PathPattern,
  ProtocolName,
  QueueSnapshot,
  SessionId,
  SessionInfo,
} from './types.js';
import {
  pendingAckBounds,
  type Claim,
  type Engine,
  type EnqueueResult,
  type PublishResult,
  type SessionLookup,
  type TakeOptions,
} from '../engine/engine.js';
import { MemoryEngine } from '../engine/memory/memory-engine.js';
import { isStrongClientId } from './client-ids.js';

export type * from './hooks.js';
export type { Prepared, PreparedMessage, Refusal } from './inbound.js';

export interface HubOptions {
  /** Defaults to a new MemoryEngine. */
  readonly engine?: Engine;
  readonly settings?: Partial<HubSettings>;
  readonly auth?: AuthHook;
  readonly authorize?: AuthorizeHook;
  readonly onSessionOpen?: SessionOpenHook;
  /**
   * Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed: addresses, CIDR ranges,
   * `loopback` or `private` (docs/security.md). Default none: the socket's peer is the client.
   */
  readonly trustProxy?: TrustProxy;
  /** The clock, for tests. */
  readonly now?: () => number;
}

/** How a session is being opened (see Hub.openSession). */
export interface OpenOptions {
  /** An id the client chose (a static LPIO id). Anonymous clients must choose strong ones. */
  readonly id?: SessionId;
  /** Accept a weak chosen id from an anonymous client (LPIO's strict conformance mode may). */
  readonly allowWeakId?: boolean;
}

export interface SendOptions {
  /** Skip the batching window and overtake queued normal messages. */
  readonly urgent?: boolean;
  /** Default true. An unreliable message may be discarded under pressure and is never retransmitted. */
  readonly reliable?: boolean;
  /** Told of each state change of this message (unsent, sent, retrying, delivered, discarding, dropped). */
  readonly onState?: MessageStateListener;
}

export interface HubEvents {
  /** A new (not duplicate) message from a client. */
  message: [message: InboundMessage, session: SessionInfo];
  sessionOpen: [session: SessionInfo];
  sessionClose: [session: SessionInfo, reason: CloseReason];
  /** An error that did not belong to any one request (engine, hook). Never thrown. */
  warning: [error: SwitchboardError];
}

interface Live {
  readonly sessionId: SessionId;
  readonly connection: Connection;
  /** Names this connection to the engine: unique in the cluster (see TakeRequest.owner). */
  readonly owner: string;
  /** The next take claims the session for this connection (its first take). */
  claim: boolean;
  /**
   * The next take re-sends the unacked tail after `resendAfter`: from the first take of a resending
   * connection until a take finds none of it left (one batch at a time, each going on after the
   * last id the previous one carried).
   */
  resend: boolean;
  resendAfter: MessageId;
  eager: boolean;
  /** The connection said it wants no more for now; cleared by `writable()`. */
  blocked: boolean;
  flushing: boolean;
  /** A wake arrived during a flush: flush again when it ends. */
  again: boolean;
  /** Still the session's live connection: cleared on detach, so a flush pass needs no lookup. */
  attached: boolean;
  lastIo: number;
}

const ID_BYTES = 16;
const DONE: Promise<void> = Promise.resolve();
const ENGINE_WARNING_INTERVAL_MS = 5_000;
const FLUSH_RETRY_MS = 250;
/** How often the heap in use is read for the memory budget (reading it costs a few µs). */
const MEMORY_SAMPLE_MS = 1_000;

/** One flush pass: its clock reading, and what it wrote, counted once at the end. */
interface FlushPass {
  readonly now: number;
  messages: number;
  acks: number;
}

export class Hub extends EventEmitter<HubEvents> {
  readonly settings: HubSettings;
  readonly engine: Engine;
  readonly #stats = new Stats();
  readonly #auth: AuthHook | undefined;
  readonly #onSessionOpen: SessionOpenHook | undefined;
  readonly #now: () => number;
  readonly #live = new Map<SessionId, Live>();
  readonly #holds: ExpiryQueue<Live>;
  readonly #dueSoon = new Set<Live>();
  readonly #dueNow = new Set<Live>();
  #soonTimer: NodeJS.Timeout | undefined;
  #nowScheduled = false;
  #touchTimer: NodeJS.Timeout | undefined;
  #staleTimer: NodeJS.Timeout | undefined;
  #started: Promise<void> | undefined;
  /** Set once start() has finished: hot paths then skip awaiting it. */
  #ready = false;
  #closing = false;
  /** Owner tokens are this random prefix and a counter: unique across nodes, no syscall per connection. */
  readonly #ownerPrefix = randomBytes(6).toString('base64url') + '.';
  #connections = 0;
  #lastEngineWarning = -Infinity;
  readonly #batchLimits: Omit<TakeOptions, 'resend'>;
  readonly #inbound: InboundChecks;
  /** Per-address limits (docs/security.md); the server layer counts sockets and requests here. */
  readonly addressLimits: AddressLimiter;
  /** Deadlines of requests still arriving: bodies and upgrades (`bodyTimeoutMs`). */
  readonly deadlines: RequestDeadlines;
  /** Whose forwarded headers are believed (`trustProxy`). */
  readonly proxies: TrustedProxies;
  #memoryInUse = 0;
  #memoryTimer: NodeJS.Timeout | undefined;

  constructor(options: HubOptions = {}) {
    super();
    this.settings = resolveSettings(options.settings);
    this.engine = options.engine ?? new MemoryEngine();
    this.#auth = options.auth;
    this.#onSessionOpen = options.onSessionOpen;
    this.#now = options.now ?? Date.now;
    this.proxies = new TrustedProxies(options.trustProxy);
    this.addressLimits = new AddressLimiter(this.settings, this.#now);
    this.deadlines = new RequestDeadlines(this.settings.bodyTimeoutMs, this.#now);
    this.#inbound = new InboundChecks(
      this.settings,
      (address) => this.engine.findByAddress(address),
      options.authorize,
      this.#now,
    );
    this.#holds = new ExpiryQueue(this.settings.holdTimeoutMs, (live) => this.#expireHold(live), this.#now);
    this.#batchLimits = {
      maxMessages: this.settings.maxBatchMessages,
      maxBytes: this.settings.maxBatchBytes,
    };
  }

  /** Starts the engine and the shared timers. Idempotent; the adapters await it before serving. */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  get closing(): boolean {
    return this.#closing;
  }

  async #start(): Promise<void> {
    await this.#startEngine();
    this.#ready = true;
  }

  async #startEngine(): Promise<void> {
    await this.engine.start({
      limits: this.settings,
      counters: this.#stats,
      now: this.#now,
      events: {
        wake: (sessionId, urgent) => this.#wake(sessionId, urgent),
        sessionClosed: (session, reason) => this.#onEngineClosed(session, reason),
        pressure: (sessionId) => this.#onPressure(sessionId),
        closedElsewhere: (sessionId, reason) => {
          this.addressLimits.sessionClosed(sessionId);
          const live = this.#live.get(sessionId);
          if (live) this.#drop(live, closeReason(reason));
        },
        sessionsLost: () => this.addressLimits.forgetSessions(),
        wakeAll: () => {
          for (const live of this.#live.values()) this.#schedule(live, true);
        },
        engineError: (error) => this.#onEngineError(error),
      },
    });
    this.#touchTimer = setInterval(() => this.#touchLive(), this.settings.touchIntervalMs);
    this.#touchTimer.unref();
    this.#staleTimer = setInterval(() => this.#cullStale(), this.settings.staleSweepMs);
    this.#staleTimer.unref();
    if (this.settings.memoryBudgetBytes > 0) {
      this.#sampleMemory();
      this.#memoryTimer = setInterval(() => this.#sampleMemory(), MEMORY_SAMPLE_MS);
      this.#memoryTimer.unref();
    }
  }

  /** The heap and what lives beside it (Buffers: frames, socket data), read once a second. */
  #sampleMemory(): void {
    const { heapUsed, external } = process.memoryUsage();
    this.#memoryInUse = heapUsed + external;
  }

  // ---------------------------------------------------------------- application API

  /** Queues `data` for one session. Rejects with SB_ERR_NO_SESSION or SB_ERR_QUEUE_FULL (nothing queued). */
  async send(sessionId: SessionId, data: unknown, options: SendOptions = {}): Promise<void> {
    await this.start();
    const message = this.#inbound.outbound(undefined, undefined, data, options);
    const result = await this.engine.enqueue(sessionId, message, 'reject');
    this.#checkEnqueue(result, sessionId);
    this.#stats.count('sent_direct');
  }

  /** Queues `data` for every session subscribed to a pattern matching `path`. */
  async publish(
    path: Path,
    data: unknown,
    options: Omit<SendOptions, 'onState'> = {},
  ): Promise<PublishResult> {
    await this.start();
    parsePath(path);
    if (isMetaPath(path)) throw new SwitchboardError('SB_ERR_BAD_PATH', `path ${path} is reserved`);
    const message = this.#inbound.outbound(path, path, data, options);
    this.#stats.count('published');
    return this.engine.publish(path, message, undefined);
  }

  async subscribe(sessionId: SessionId, ...patterns: PathPattern[]): Promise<void> {
    await this.start();
    await this.engine.subscribe(sessionId, patterns);
  }

  async unsubscribe(sessionId: SessionId, ...patterns: PathPattern[]): Promise<void> {
    await this.start();
    await this.engine.unsubscribe(sessionId, patterns);
  }

  /** Ends a session (default reason `not_allowed`: the application closed it). */
  async closeSession(sessionId: SessionId, reason: CloseReasonName = 'not_allowed'): Promise<boolean> {
    await this.start();
    return this.engine.closeSession(sessionId, reason);
  }

  async session(sessionId: SessionId): Promise<SessionInfo | undefined> {
    await this.start();
    const lookup = await this.engine.getSession(sessionId);
    return lookup.status === 'open' ? lookup.session : undefined;
  }

  /** The session's queue with each message's state and timestamp. */
  async inspect(sessionId: SessionId): Promise<QueueSnapshot | undefined> {
    await this.start();
    return this.engine.inspect(sessionId);
  }

  async stats(): Promise<StatsSnapshot> {
    const live: Partial<Record<ProtocolName, number>> = {};
    for (const { connection } of this.#live.values())
      live[connection.protocol] = (live[connection.protocol] ?? 0) + 1;
    const sessions = this.#started ? await this.engine.sessionCount() : new Map<ProtocolName, number>();
    return {
      counters: { ...this.#stats.counters },
      closeReasons: { ...this.#stats.closeReasons },
      sessionsByProtocol: Object.fromEntries(sessions),
      liveConnectionsByProtocol: live,
      addressLimits: { tracked: this.addressLimits.size, refused: { ...this.addressLimits.refused } },
    };
  }

  /**
   * Graceful close: live connections end with `shutdown` (clients resume elsewhere or later),
   * timers stop, the engine closes. Sessions of a shared engine survive for other nodes.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const live of [...this.#live.values()]) this.#drop(live, closeReason('shutdown'));
    this.#holds.clear();
    this.deadlines.clear();
    clearTimeout(this.#soonTimer);
    clearInterval(this.#touchTimer);
    clearInterval(this.#staleTimer);
    clearInterval(this.#memoryTimer);
    if (this.#started) await this.engine.close();
  }

  // ---------------------------------------------------------------- adapter API

  /** The client's address for a request: its socket's peer, or the forwarded one from a trusted proxy. */
  clientAddress(req: IncomingMessage): string {
    return this.proxies.clientAddress(req);
  }

  /**
   * Runs the auth hook. Throws SB_ERR_FORBIDDEN (403) on rejection; nothing must be processed then.
   * `remoteAddress` should be `clientAddress(req)`: per-address limits count the identity's `peer`.
   */
  authenticate(request: AuthRequest): Promise<Identity> {
    // Without a hook every request is anonymous: no async frame per request.
    if (!this.#auth) return Promise.resolve({ user: undefined, peer: request.remoteAddress });
    return this.#authenticate(request, this.#auth);
  }

  async #authenticate(request: AuthRequest, hook: AuthHook): Promise<Identity> {
    let result: AuthResult;
    try {
      result = await hook(request);
    } catch (error) {
      throw toSwitchboardError(error);
    }
    if (result !== true && (typeof result !== 'object' || result === null))
      throw new SwitchboardError('SB_ERR_FORBIDDEN', 'the auth hook rejected the request');
    const peer = request.remoteAddress;
    if (result === true) return { user: undefined, peer };
    return { user: typeof result.user === 'string' ? result.user : undefined, peer };
  }

  /**
   * Finds a session. With `claim` (from `newOwner()`), the request claims the session as it
   * arrives (see Engine.getSession); pass the same token to `connect`.
   */
  lookupSession(id: SessionId, claim?: Claim): Promise<SessionLookup> {
    if (!this.#ready) return this.start().then(() => this.engine.getSession(id, claim));
    return this.engine.getSession(id, claim);
  }

  /** A token naming one connection to the engine, unique in the cluster. */
  newOwner(): string {
    return this.#ownerPrefix + (++this.#connections).toString(36);
  }

  /** Checks that `identity` may use `session`: a session opened by one user is never resumed by another. */
  assertOwner(session: SessionInfo, identity: Identity): void {
    if (session.user !== undefined && session.user !== identity.user) {
      throw new SwitchboardError('SB_ERR_FORBIDDEN', 'the session belongs to another user');
    }
  }

  /**
   * Opens a session (with the client's own id when it brings one, else a new random one), runs
   * the open hook and its initial subscriptions. Throws SB_ERR_FORBIDDEN when the hook refuses,
   * SB_ERR_WEAK_CLIENT_ID for a guessable id chosen by an anonymous client, SB_ERR_RATE_LIMITED
   * (429) past the client address's session rate, SB_ERR_OVERLOADED (503) past the memory budget.
   */
  async openSession(
    protocol: ProtocolName,
    identity: Identity,
    options: OpenOptions = {},
  ): Promise<SessionInfo> {
    const { id, allowWeakId = false } = options;
    await this.start();
    if (this.#closing) throw new SwitchboardError('SB_ERR_SHUTTING_DOWN', 'the server is shutting down');
    // A chosen id is the session's only secret. With a user it is bound to that user (assertOwner);
    // an anonymous one must be unguessable, or anyone could claim it and read its messages.
    if (id !== undefined && identity.user === undefined && !allowWeakId && !isStrongClientId(id)) {
      throw new SwitchboardError(
        'SB_ERR_WEAK_CLIENT_ID',
        'a client-chosen session id must look random: 22 or more characters of A-Z a-z 0-9 _ - such as crypto.randomUUID() makes; or let the server assign one',
      );
    }
    const budget = this.settings.memoryBudgetBytes;
    if (budget > 0 && this.#memoryInUse > budget) {
      throw new SwitchboardError(
        'SB_ERR_OVERLOADED',
        `the node holds its memory budget (${Math.round(budget / 2 ** 20)} MiB of heap and buffers in use); try another node or later`,
        { retryAfter: 5 },
      );
    }
    if (!this.addressLimits.openSession(identity.peer)) await this.#makeSessionRoom(identity.peer as string);
    const session = await this.engine.openSession({
      id: id ?? randomId(),
      address: randomId(),
      protocol,
      user: identity.user,
    });
    this.#stats.count('sessions_opened');
    this.addressLimits.sessionOpened(identity.peer, session.id);
    try {
      const patterns = this.#onSessionOpen ? await this.#onSessionOpen(session) : undefined;
      if (patterns === false) {
        await this.engine.closeSession(session.id, 'not_allowed');
        throw new SwitchboardError('SB_ERR_FORBIDDEN', 'the application refused the session');
      }
      if (patterns && patterns.length > 0) await this.engine.subscribe(session.id, patterns);
    } catch (error) {
      await this.engine.closeSession(session.id, 'not_allowed');
      throw toSwitchboardError(error);
    }
    this.emit('sessionOpen', session);
    return session;
  }

  /**
   * Checks client messages against the core's rules (size, paths, recipients, permissions)
   * before anything is processed. A message that breaks one is refused alone (`refused`); only
   * request-wide problems throw (too many messages, a failing hook or engine), and then nothing is
   * processed.
   */
  prepare(session: SessionInfo, messages: readonly InboundMessage[]): Promise<Prepared> {
    return this.#inbound.prepare(session, messages);
  }

  /**
   * Processes one request's worth of client traffic in order: acks, then messages (duplicates
   * are only acked again), routing each to its path, recipient or the application. Returns the
   * messages the engine refused (a subscribe past `maxSubscriptions`): not processed, not acked.
   */
  async receive(
    session: SessionInfo,
    messages: readonly PreparedMessage[],
    acks: readonly MessageId[],
  ): Promise<Refusal[]> {
    this.#stats.count('requests');
    // An ack that frees room in a full unacked tail makes the engine wake the session.
    if (acks.length > 0) await this.engine.ack(session.id, acks);
    if (messages.length === 0) return [];
    // The engine marks each id received and routes it in one step (see Engine.receive).
    const outcomes = await this.engine.receive(
      session.id,
      messages.map((prepared) => ({
        id: prepared.message.id,
        route: this.#inbound.routeOf(session, prepared),
      })),
    );
    const refused: Refusal[] = [];
    for (let i = 0; i < messages.length; i++) {
      const prepared = messages[i] as PreparedMessage;
      const outcome = outcomes[i];
      if (outcome === 'too_many_subscriptions') {
        refused.push({
          id: prepared.message.id,
          error: new SwitchboardError(
            'SB_ERR_TOO_MANY_SUBSCRIPTIONS',
            `a session may hold at most ${this.settings.maxSubscriptions} subscriptions`,
          ),
        });
        continue;
      }
      if (outcome === 'acks_pending') {
        this.#stats.count('acks_pending');
        refused.push({ id: prepared.message.id, error: this.#acksPending() });
        continue;
      }
      if (outcome !== 'new' || prepared.kind === 'subscribe' || prepared.kind === 'unsubscribe') continue;
      this.#stats.count('messages_in');
      this.emit('message', prepared.message, session);
    }
    return refused;
  }

  /**
   * Attaches a live connection to a session on this node. A connection already attached is
   * superseded (closed with `superseded`): its unwritten messages stay queued for the new one.
   * `claimed`: the token this request claimed the session with in `lookupSession`; without it the
   * connection's first take claims.
   */
  connect(sessionId: SessionId, connection: Connection, claimed?: string): void {
    const previous = this.#live.get(sessionId);
    if (previous) {
      this.#stats.count('superseded');
      this.#drop(previous, closeReason('superseded'));
    }
    const live: Live = {
      sessionId,
      connection,
      owner: claimed ?? this.newOwner(),
      claim: claimed === undefined,
      resend: connection.resend,
      resendAfter: 0,
      eager: connection.eager === true,
      blocked: false,
      flushing: false,
      again: false,
      attached: true,
      lastIo: this.#now(),
    };
    this.#live.set(sessionId, live);
    this.#stats.count('connections_opened');
    if (connection.oneShot) this.#holds.add(live);
    this.#schedule(live, true);
  }

  /** The client went away (socket closed). Nothing is lost: unwritten messages stay queued. */
  disconnect(sessionId: SessionId, connection: Connection): void {
    const live = this.#live.get(sessionId);
    if (live?.connection !== connection) return;
    this.#detach(live);
  }

  /**
   * Ends a live connection for a reason of the adapter's own (`timeout`, `slow`): counted in the
   * close-reason stats, detached, and closed with that reason. The session stays.
   */
  closeConnection(sessionId: SessionId, connection: Connection, reason: CloseReason): void {
    this.#stats.countClose(reason.name);
    const live = this.#live.get(sessionId);
    if (live?.connection === connection) this.#drop(live, reason);
    else connection.close(reason);
  }

  /** A connection that returned false from write() can take more again: flush what waits. */
  writable(sessionId: SessionId, connection: Connection): void {
    const live = this.#live.get(sessionId);
    if (live?.connection !== connection || !live.blocked) return;
    live.blocked = false;
    this.#schedule(live, true);
  }

  /**
   * Acks every message of the session up to and including `upTo` (a resuming client's "last id I
   * received", or a streaming client's cumulative ack).
   */
  async ackUpTo(session: SessionInfo, upTo: MessageId): Promise<void> {
    // An ack that frees room in a full unacked tail makes the engine wake the session.
    await this.engine.ackUpTo(session.id, upTo);
  }

  /** Records I/O on a live connection (for the stale sweep). */
  noteIo(sessionId: SessionId): void {
    const live = this.#live.get(sessionId);
    if (live) live.lastIo = this.#now();
  }

  /** Marks one session as seen (an HTTP request arrived for it). */
  /**
   * Marks a session as seen (a request arrived for it). Skipped when it was seen within half the
   * touch interval: the inactivity timeout is far longer, and a long poll touches it on every
   * request otherwise.
   */
  touch(session: SessionInfo): Promise<void> {
    if (this.#now() - session.lastSeen < this.settings.touchIntervalMs / 2) return DONE;
    return this.engine.touch([session.id]);
  }

  countRejected(): void {
    this.#stats.count('requests_rejected');
  }

  // ---------------------------------------------------------------- internals

  #checkEnqueue(result: EnqueueResult, sessionId: SessionId): void {
    if (result === 'no_session')
      throw new SwitchboardError('SB_ERR_NO_SESSION', `no open session ${sessionId}`);
    if (result === 'full') {
      throw new SwitchboardError(
        'SB_ERR_QUEUE_FULL',
        `the send queue of session ${sessionId} is full (${this.settings.maxQueueMessages} messages or ${this.settings.maxQueueBytes} bytes)`,
      );
    }
  }

  #acksPending(): SwitchboardError {
    const { count } = pendingAckBounds(this.settings);
    return new SwitchboardError(
      'SB_ERR_ACKS_PENDING',
      `the session holds ${count} acks its client has not taken yet (half of dedupeWindow); take them (poll, or keep the connection open) and send this message again`,
      { retryAfter: 1 },
    );
  }

  #wake(sessionId: SessionId, urgent: boolean): void {
    const live = this.#live.get(sessionId);
    if (live) this.#schedule(live, urgent || live.connection.immediate === true);
  }

  /** Flushes due sessions in one pass: urgent ones on the next turn, the rest after the batching window. */
  #schedule(live: Live, now: boolean): void {
    if (now || this.settings.batchWindowMs === 0) {
      this.#dueNow.add(live);
      if (!this.#nowScheduled) {
        this.#nowScheduled = true;
        setImmediate(() => {
          this.#nowScheduled = false;
          this.#flushAll(this.#dueNow);
        });
      }
      return;
    }
    this.#dueSoon.add(live);
    this.#soonTimer ??= setTimeout(() => {
      this.#soonTimer = undefined;
      this.#flushAll(this.#dueSoon);
    }, this.settings.batchWindowMs);
  }

  /**
   * One pass over the due sessions: one engine call takes for all of them (no promise per
   * subscriber after a fan-out), then each batch is written.
   */
  #flushAll(due: Set<Live>): void {
    const lives: Live[] = [];
    for (const live of due) {
      if (!live.attached || live.blocked) continue;
      if (live.flushing) {
        live.again = true;
        continue;
      }
      live.flushing = true;
      live.again = false;
      lives.push(live);
    }
    due.clear();
    if (lives.length === 0) return;
    // A Live is its own take request (sessionId, resend, owner, claim): no copy per subscriber.
    this.engine.takeMany(lives, this.#batchLimits).then(
      (batches) => {
        const pass: FlushPass = { now: this.#now(), messages: 0, acks: 0 };
        for (let i = 0; i < lives.length; i++) this.#taken(lives[i] as Live, batches[i] as Batch, pass);
        this.#stats.count('messages_out', pass.messages);
        this.#stats.count('acks_out', pass.acks);
      },
      (error: unknown) => {
        for (const live of lives) live.flushing = false;
        this.warn(error);
        // The engine failed (Redis away): try these connections again shortly instead of
        // leaving them until the next wake-up, which may never come for a quiet session.
        setTimeout(() => {
          for (const live of lives) if (live.attached) this.#schedule(live, true);
        }, FLUSH_RETRY_MS).unref();
      },
    );
  }

  #taken(live: Live, batch: Batch, pass: FlushPass): void {
    live.flushing = false;
    if (batch.superseded === true) {
      // A newer connection of the session, on this node or another, claimed it.
      if (live.attached) {
        this.#stats.count('superseded');
        this.#drop(live, closeReason('superseded'));
      }
      return;
    }
    if (batch.ended !== undefined) {
      if (live.attached) this.#drop(live, closeReason(batch.ended));
      return;
    }
    live.claim = false;
    if (live.resend) {
      // Re-sent messages come first in a batch: none means the tail is all re-sent.
      const last = batch.deliveries[batch.deliveries.length - 1];
      if (last !== undefined && batch.deliveries[0]?.retry === true) live.resendAfter = last.id;
      else live.resend = false;
    }
    const eager = live.eager;
    live.eager = false;
    if (batch.acks.length === 0 && batch.deliveries.length === 0 && !eager) {
      if (live.again) this.#schedule(live, true);
      return;
    }
    const gone = live.connection.closed === true;
    if (!live.attached || gone) {
      // Detached or closed while taking: the messages taken stay unacked and are re-sent on
      // resume, but acks are not re-sent by themselves: give them back for the next connection.
      if (gone) this.#detach(live);
      if (batch.acks.length > 0) {
        this.engine.requeueAcks(live.sessionId, batch.acks).catch((error: unknown) => this.warn(error));
      }
      return;
    }
    live.lastIo = pass.now;
    pass.messages += batch.deliveries.length;
    pass.acks += batch.acks.length;
    const more = live.connection.write(batch);
    if (live.connection.oneShot) {
      this.#detach(live);
      return;
    }
    if (!more) {
      live.blocked = true;
      return;
    }
    if (batch.more === true || live.again || live.resend) this.#schedule(live, true);
  }

  #expireHold(live: Live): void {
    if (!live.attached) return;
    this.#stats.count('hold_timeouts');
    this.#drop(live, closeReason('hold_timeout'));
  }

  /** Ends a live connection with a reason (the adapter writes it) and forgets it. */
  #drop(live: Live, reason: CloseReason): void {
    this.#detach(live);
    live.connection.close(reason);
  }

  #detach(live: Live): void {
    if (!live.attached) return;
    live.attached = false;
    this.#live.delete(live.sessionId);
    this.#holds.delete(live);
    this.#stats.count('connections_closed');
  }

  /**
   * A stream whose socket is backed up while its queue passes the pressure mark is not keeping up:
   * it is closed as `slow` while the queue still has room, so the client can resume and get every
   * reliable message. A stream that is not backed up is only behind a burst it will take at the
   * next flush; a long poll's next request takes what waits.
   */
  #onPressure(sessionId: SessionId): void {
    const live = this.#live.get(sessionId);
    if (live?.blocked && !live.connection.oneShot) {
      this.closeConnection(sessionId, live.connection, closeReason('slow'));
    }
  }

  /**
   * The address holds its maximum of sessions. Some may be gone without this node hearing of it
   * (closed by another node while events were lost, or lost with Redis' data): the oldest few
   * are looked up, and those gone no longer count. Throws the refusal if that frees nothing.
   */
  async #makeSessionRoom(peer: string): Promise<void> {
    for (const id of this.addressLimits.heldBy(peer, 16)) {
      if ((await this.engine.getSession(id)).status !== 'open') this.addressLimits.sessionClosed(id);
    }
    if (!this.addressLimits.hasSessionRoom(peer)) throw this.addressLimits.heldRefusal();
  }

  #onEngineClosed(session: SessionInfo, reason: CloseReasonName): void {
    this.addressLimits.sessionClosed(session.id);
    this.#stats.countClose(reason);
    const full = closeReason(reason);
    const live = this.#live.get(session.id);
    if (live) this.#drop(live, full);
    this.emit('sessionClose', session, full);
  }

  /** Counted every time; reported at most every few seconds (a lost Redis fails on every retry). */
  #onEngineError(error: SwitchboardError): void {
    this.#stats.count('engine_errors');
    const now = this.#now();
    if (now - this.#lastEngineWarning < ENGINE_WARNING_INTERVAL_MS) return;
    this.#lastEngineWarning = now;
    this.warn(error);
  }

  #touchLive(): void {
    if (this.#live.size === 0) return;
    this.engine.touch([...this.#live.keys()]).catch((error: unknown) => this.warn(error));
  }

  #cullStale(): void {
    const cutoff = this.#now() - this.settings.staleAfterMs;
    for (const live of [...this.#live.values()]) {
      if (live.lastIo < cutoff) {
        this.#stats.count('stale_culled');
        this.#drop(live, closeReason('stale'));
      }
    }
  }

  /** Reports what belongs to no one request (adapter API): the 'warning' event, or stderr without a listener. */
  warn(error: unknown): void {
    const failure = toSwitchboardError(error);
    if (this.listenerCount('warning') > 0) this.emit('warning', failure);
    else console.error('switchboard:', failure, failure.cause ?? '');
  }
}

/** 128 random bits, URL-safe: unguessable session ids and addresses. */
export function randomId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}
