/**
 * The Redis engine: all session state lives in one Redis, so many stateless nodes serve one
 * cluster with no sticky sessions (any node answers any request of any session).
 *
 * - Atomic steps: every engine operation is one call of one Lua script (engine.lua), so two nodes
 *   racing on one session can never reorder, duplicate or lose a message. A flush pass of the hub
 *   (`takeMany`) is one call for all its sessions; a publish to N subscribers is one call.
 * - Fan-out: a message body is stored once (`m:<mid>`, reference-counted) and each subscriber's
 *   queue gets a short reference to it. Nodes keep a small cache of decoded messages, so a body
 *   is parsed once per node and the same `Outbound` object (and its pre-framed bytes) is shared by
 *   every local recipient.
 * - Routing: each node keeps a trie of the patterns someone subscribes to (a cache rebuilt from
 *   Redis) and sends the patterns that match a path with the publish. A routing script checks
 *   the node has seen the latest pattern addition; if not, the node reloads and retries.
 * - Wake-ups, closes, pattern changes and message states cross nodes as one PUBLISH per script
 *   call on `<prefix>ev`; the calling node applies the same events from the script's answer.
 * - Failures: commands fail fast while Redis is away (no offline queue) with
 *   SB_ERR_ENGINE_UNAVAILABLE (503, retry), and the client reconnects by itself. Data lost by
 *   Redis (restarted empty) is detected by a missing epoch; sessions not found for twice the
 *   inactivity timeout afterwards are reported closed as `lost`, never silently replaced.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createClient } from '@redis/client';
import type { CloseReasonName } from '../../core/close-reasons.js';
import { SwitchboardError, isSwitchboardError, type ErrorCode, ERROR_CODES } from '../../core/errors.js';
import { parsePattern } from '../../core/paths.js';
import { TrieRouter } from '../../core/router.js';
import type {
  Address,
  Batch,
  ClientMessageId,
  Delivery,
  MessageId,
  MessageSnapshot,
  MessageState,
  MessageStateListener,
  Outbound,
  Path,
  PathPattern,
  ProtocolName,
  QueueSnapshot,
  SessionId,
  SessionInfo,
} from '../../core/types.js';
import type {
  Claim,
  Engine,
  EngineContext,
  EngineCounterName,
  EnqueueResult,
  PublishResult,
  Received,
  ReceiveOutcome,
  SessionInit,
  SessionLookup,
  TakeOptions,
  TakeRequest,
} from '../engine.js';

const SCRIPT = readFileSync(new URL('./engine.lua', import.meta.url), 'utf8');

export interface RedisEngineOptions {
  /** `redis://[[user]:password@]host:port[/db]` or `rediss://` for TLS. */
  readonly url: string;
  /** Prefix of every key and channel, so several clusters (or tests) share one Redis. Default `sb:`. */
  readonly prefix?: string;
  /** Decoded messages kept per node (shared by local recipients). Default 10,000. */
  readonly messageCache?: number;
  /** Listeners of message states kept per node at most (oldest forgotten first). Default 100,000. */
  readonly maxTrackedMessages?: number;
  /** Inactive sessions closed per sweep at most. Default 1,000. */
  readonly sweepBatch?: number;
}

type Reply = string | number | null | Reply[];
/**
 * `connected()` says whether this client was ever ready: before that a failure is final (a node
 * that cannot reach Redis at start exits with the error); after it the client keeps retrying.
 */
function makeClient(url: string, connected: () => boolean) {
  return createClient({
    url,
    // Fail fast while Redis is away: a queued command would hold a request with no answer.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 5_000,
      reconnectStrategy: (retries: number, cause: Error) =>
        connected() ? Math.min(50 * 2 ** retries, 2_000) : cause,
    },
  });
}
type RedisClient = ReturnType<typeof makeClient>;

/** What other nodes learn from a script call (engine.lua, end). */
interface ClusterEvent {
  readonly n: string;
  readonly u?: SessionId[];
  readonly w?: SessionId[];
  readonly p?: SessionId[];
  readonly c?: Array<[SessionId, CloseReasonName]>;
  readonly s?: Record<string, Array<[string, MessageState, number, number]>>;
  readonly v?: Array<[number, '+' | '-', PathPattern]>;
}

const EMPTY_BATCH: Batch = Object.freeze({ acks: [], deliveries: [] });
const SUPERSEDED: Batch = Object.freeze({ acks: [], deliveries: [], superseded: true });
const ENQUEUE_RESULTS = new Set<EnqueueResult>(['queued', 'discarded', 'full', 'closed', 'no_session']);
/** The script's answer per received message: 0 duplicate, 1 new, 2 refused subscribe. */
const RECEIVE_OUTCOMES: readonly ReceiveOutcome[] = ['duplicate', 'new', 'too_many_subscriptions'];

export class RedisEngine implements Engine {
  readonly name = 'redis';
  readonly #options: Required<RedisEngineOptions>;
  readonly #prefix: string;
  /** Names this node in cluster events; also the origin of the message states it listens to. */
  readonly #node = randomBytes(9).toString('base64url');
  #context: EngineContext | undefined;
  #client: RedisClient | undefined;
  #subscriber: RedisClient | undefined;
  #sha = '';
  #limits = '';
  #epoch = '';
  readonly #patterns = new TrieRouter<PathPattern>();
  readonly #knownPatterns = new Set<PathPattern>();
  #patternVersion = 0;
  #reloading: Promise<void> | undefined;
  readonly #messages = new Map<string, Outbound>();
  readonly #listeners = new Map<string, MessageStateListener>();
  #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Redis commands this node sent (script calls count one each), for the benchmark. */
  calls = 0;

  constructor(options: RedisEngineOptions) {
    this.#options = {
      prefix: 'sb:',
      messageCache: 10_000,
      maxTrackedMessages: 100_000,
      sweepBatch: 1_000,
      ...options,
    };
    this.#prefix = this.#options.prefix;
  }

  get #ctx(): EngineContext {
    if (!this.#context) throw new SwitchboardError('SB_ERR_CONFIG', 'engine used before start()');
    return this.#context;
  }

  get #redis(): RedisClient {
    if (!this.#client) throw new SwitchboardError('SB_ERR_CONFIG', 'engine used before start()');
    return this.#client;
  }

  async start(context: EngineContext): Promise<void> {
    this.#context = context;
    const { limits } = context;
    this.#limits = [
      limits.maxQueueMessages,
      limits.maxQueueBytes,
      limits.maxUnacked,
      limits.unreliableHighWater,
      limits.pressureHighWater,
      limits.unreliableTtlMs,
      limits.dedupeWindow,
      limits.maxSessions,
      limits.maxSubscriptions,
      limits.tombstones,
      // Long enough for every client of a lost session to come back and be told.
      Math.max(1, limits.inactivityTimeoutMs * 2),
    ].join(',');
    const ready = () => this.#sha !== '';
    const client = makeClient(this.#options.url, ready);
    client.on('error', (error: unknown) => this.#onRedisError(error));
    const subscriber = makeClient(this.#options.url, ready);
    subscriber.on('error', (error: unknown) => this.#onRedisError(error));
    // After Redis comes back: events published while we were away are lost, so reload what they
    // carry (patterns, the epoch) and let every local connection take again.
    const resync = () => {
      if (this.#closed || !this.#sha || !client.isReady || !subscriber.isReady) return;
      this.#resync().catch((error: unknown) => this.#onRedisError(error));
    };
    client.on('ready', resync);
    subscriber.on('ready', resync);
    this.#client = client;
    this.#subscriber = subscriber;
    try {
      await client.connect();
      await subscriber.connect();
      await subscriber.subscribe(`${this.#prefix}ev`, (message: string) => this.#onEvent(message));
      this.#sha = String(await this.#command(['SCRIPT', 'LOAD', SCRIPT]));
      this.#epoch = String(await this.#run('epoch', ['', this.#freshEpoch()]));
      await this.#reloadPatterns();
    } catch (error) {
      await this.close();
      throw unavailable(error);
    }
    this.#sweepTimer = setInterval(() => this.#sweep(), limits.sweepIntervalMs);
    this.#sweepTimer.unref();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    const clients = [this.#subscriber, this.#client].filter((c): c is RedisClient => c?.isOpen === true);
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }

  // ---------------------------------------------------------------- sessions

  async openSession(init: SessionInit): Promise<SessionInfo> {
    const reply = (await this.#run('open', [
      init.id,
      init.address,
      init.protocol,
      init.user ?? '',
      init.user === undefined ? '0' : '1',
    ])) as Reply[];
    return sessionInfo(reply, 0);
  }

  async getSession(id: SessionId, claim?: Claim): Promise<SessionLookup> {
    const reply = (await this.#run('get', [
      id,
      this.#epoch,
      this.#freshEpoch(),
      claim?.owner ?? '',
      claim?.user ?? '',
      claim?.user === undefined ? '0' : '1',
      claim?.instance ?? '',
      claim?.seq === undefined ? '' : String(claim.seq),
    ])) as Reply[];
    this.#epoch = String(reply[1]);
    switch (reply[0]) {
      case 'open':
        return { status: 'open', session: sessionInfo(reply, 2) };
      case 'closed':
        return { status: 'closed', reason: String(reply[2]) as CloseReasonName };
      default:
        return { status: 'unknown' };
    }
  }

  async findByAddress(address: Address): Promise<SessionId | undefined> {
    const id = await this.#command(['HGET', `${this.#prefix}addr`, address]);
    return typeof id === 'string' ? id : undefined;
  }

  async touch(ids: readonly SessionId[]): Promise<void> {
    if (ids.length > 0) await this.#run('touch', ids);
  }

  async closeSession(id: SessionId, reason: CloseReasonName): Promise<boolean> {
    return (await this.#run('close', [id, reason])) === 1;
  }

  async sessionCount(): Promise<Map<ProtocolName, number>> {
    const flat = await this.#command(['HGETALL', `${this.#prefix}protos`]);
    const counts = new Map<ProtocolName, number>();
    const entries: Array<[string, Reply]> = Array.isArray(flat)
      ? pairs(flat)
      : Object.entries(flat as unknown as Record<string, Reply>);
    for (const [protocol, value] of entries) {
      const n = Number(value);
      if (n > 0) counts.set(protocol as ProtocolName, n);
    }
    return counts;
  }

  // ---------------------------------------------------------------- client traffic

  async receive(sessionId: SessionId, messages: readonly Received[]): Promise<ReceiveOutcome[]> {
    const reply = await this.#withPatterns(() => {
      const args: string[] = [sessionId, String(this.#patternVersion), String(messages.length)];
      for (const { id, route } of messages) {
        args.push(id, route.kind);
        switch (route.kind) {
          case 'publish':
            args.push(route.path, ...this.#matching(route.path));
            this.#pushMessage(args, route.message);
            break;
          case 'direct':
            args.push(route.to);
            this.#pushMessage(args, route.message);
            break;
          case 'subscribe':
          case 'unsubscribe':
            args.push(String(route.patterns.length), ...route.patterns);
            break;
          case 'server':
            break;
        }
      }
      return this.#run('receive', args);
    });
    return (reply as number[]).map((n) => RECEIVE_OUTCOMES[n] ?? 'duplicate');
  }

  async requeueAcks(sessionId: SessionId, acks: readonly ClientMessageId[]): Promise<void> {
    if (acks.length > 0) await this.#run('requeueAcks', [sessionId, ...acks]);
  }

  async ack(sessionId: SessionId, ids: readonly MessageId[]): Promise<number> {
    if (ids.length === 0) return 0;
    return Number(await this.#run('ack', [sessionId, ...ids.map(String)]));
  }

  async ackUpTo(sessionId: SessionId, upTo: MessageId): Promise<number> {
    return Number(await this.#run('ackUpTo', [sessionId, String(upTo)]));
  }

  // ---------------------------------------------------------------- outbound

  async enqueue(sessionId: SessionId, message: Outbound, onFull: 'reject' | 'close'): Promise<EnqueueResult> {
    const args = [sessionId, onFull];
    this.#pushMessage(args, message);
    const result = String(await this.#run('enqueue', args)) as EnqueueResult;
    if (!ENQUEUE_RESULTS.has(result))
      throw new SwitchboardError('SB_ERR_INTERNAL', `engine answered ${result}`);
    return result;
  }

  async publish(path: Path, message: Outbound, except: SessionId | undefined): Promise<PublishResult> {
    const reply = (await this.#withPatterns(() => {
      const args = [String(this.#patternVersion), except ?? '', ...this.#matching(path)];
      this.#pushMessage(args, message);
      return this.#run('publish', args);
    })) as number[];
    return {
      matched: reply[0] ?? 0,
      queued: reply[1] ?? 0,
      discarded: reply[2] ?? 0,
      overflowed: reply[3] ?? 0,
    };
  }

  async take(sessionId: SessionId, options: TakeOptions): Promise<Batch> {
    const [batch] = await this.takeMany([{ sessionId, resend: options.resend }], options);
    return batch ?? EMPTY_BATCH;
  }

  async takeMany(requests: readonly TakeRequest[], limits: Omit<TakeOptions, 'resend'>): Promise<Batch[]> {
    if (requests.length === 0) return [];
    const args = [String(limits.maxMessages), String(limits.maxBytes), String(requests.length)];
    for (const r of requests) {
      args.push(r.sessionId, r.resend ? '1' : '0', r.owner ?? '', r.claim === true ? '1' : '0');
    }
    const [rawBatches, rawBodies] = (await this.#run('take', args)) as [Reply[][], Reply[]];
    const bodies = new Map<string, string>();
    for (let i = 0; i < rawBodies.length; i += 2) bodies.set(String(rawBodies[i]), String(rawBodies[i + 1]));
    return rawBatches.map((raw) => {
      if (raw[0] === 2) return SUPERSEDED;
      if (raw[0] === 0) return typeof raw[1] === 'string' ? ended(raw[1] as CloseReasonName) : EMPTY_BATCH;
      if (raw[0] !== 1) return EMPTY_BATCH;
      const acks = (raw[1] as string[]).map(String);
      const flat = raw[2] as Reply[];
      const deliveries: Delivery[] = [];
      for (let i = 0; i < flat.length; i += 3) {
        const mid = String(flat[i + 1]);
        deliveries.push({
          id: Number(flat[i]),
          message: this.#decode(mid, bodies.get(mid)),
          retry: flat[i + 2] === 1,
        });
      }
      if (acks.length === 0 && deliveries.length === 0) return EMPTY_BATCH;
      return raw[3] === 1 ? { acks, deliveries, more: true } : { acks, deliveries };
    });
  }

  // ---------------------------------------------------------------- subscriptions

  async subscribe(sessionId: SessionId, patterns: readonly PathPattern[]): Promise<void> {
    for (const pattern of patterns) parsePattern(pattern);
    await this.#run('subscribe', [sessionId, ...patterns]);
  }

  async unsubscribe(sessionId: SessionId, patterns: readonly PathPattern[]): Promise<void> {
    for (const pattern of patterns) parsePattern(pattern);
    await this.#run('unsubscribe', [sessionId, ...patterns]);
  }

  async subscriptions(sessionId: SessionId): Promise<PathPattern[]> {
    return ((await this.#command(['SMEMBERS', `${this.#prefix}sub:${sessionId}`])) as string[]).map(String);
  }

  async inspect(sessionId: SessionId): Promise<QueueSnapshot | undefined> {
    const reply = (await this.#run('inspect', [sessionId])) as Reply[] | null;
    if (!Array.isArray(reply)) return undefined;
    const [nextId, bytes, unsent, tail, rawBodies] = reply as [string, string, string[], string[], string[]];
    const bodies = new Map<string, string>();
    for (let i = 0; i < rawBodies.length; i += 2) bodies.set(String(rawBodies[i]), String(rawBodies[i + 1]));
    const snapshot = (mid: string, fields: Omit<MessageSnapshot, 'path' | 'urgent' | 'reliable'>) => {
      const message = this.#decode(mid, bodies.get(mid));
      return { ...fields, path: message.path, urgent: message.urgent, reliable: message.reliable };
    };
    const unsentSnapshots = unsent.map((entry) => {
      const [mid = '', at = '0'] = String(entry).split('|');
      return snapshot(mid, { id: undefined, state: 'unsent', at: Number(at), attempts: 0 });
    });
    const unacked: MessageSnapshot[] = [];
    for (let i = 0; i < tail.length; i += 2) {
      const [mid = '', attempts = '0', at = '0', state = 's'] = String(tail[i]).split('|');
      unacked.push(
        snapshot(mid, {
          id: Number(tail[i + 1]),
          state: state === 'r' ? 'retrying' : 'sent',
          at: Number(at),
          attempts: Number(attempts),
        }),
      );
    }
    return { unsent: unsentSnapshots, unacked, nextId: Number(nextId), bytes: Number(bytes) };
  }

  // ---------------------------------------------------------------- internals

  /** Runs one engine operation (one script call) and applies what it reports. */
  async #run(op: string, args: readonly string[]): Promise<Reply> {
    const { now } = this.#ctx;
    const argv = [this.#prefix, op, this.#node, String(now()), this.#limits, ...args];
    let reply: Reply[];
    try {
      this.calls++;
      reply = await this.#redis.sendCommand<Reply[]>(['EVALSHA', this.#sha, '0', ...argv]);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        // Redis restarted (or its script cache was flushed): load it again, once.
        this.#sha = String(await this.#command(['SCRIPT', 'LOAD', SCRIPT]));
        reply = (await this.#command(['EVALSHA', this.#sha, '0', ...argv])) as Reply[];
      } else {
        throw fromRedis(error);
      }
    }
    this.#apply(reply);
    return reply[0] ?? null;
  }

  async #command(args: string[]): Promise<Reply> {
    this.calls++;
    try {
      return await this.#redis.sendCommand<Reply>(args);
    } catch (error) {
      throw fromRedis(error);
    }
  }

  #apply(reply: Reply[]): void {
    const { counters, events } = this.#ctx;
    const [, counterFlat, states, wakes, closed, pressured, changes] = reply as [
      Reply,
      Reply[],
      Reply[],
      Reply[],
      Reply[],
      SessionId[],
      Reply[],
    ];
    for (let i = 0; i < counterFlat.length; i += 2) {
      counters.count(counterFlat[i] as EngineCounterName, Number(counterFlat[i + 1]));
    }
    for (let i = 0; i < states.length; i += 4) {
      const id = Number(states[i + 3]);
      this.#state(
        String(states[i]),
        states[i + 1] as MessageState,
        Number(states[i + 2]),
        id > 0 ? id : undefined,
      );
    }
    for (let i = 0; i < changes.length; i += 3) {
      this.#patternChange(Number(changes[i]), changes[i + 1] as '+' | '-', String(changes[i + 2]));
    }
    // Each closed session: its reason, then the session as `sessionInfo` reads it.
    for (let i = 0; i < closed.length; i += 7) {
      events.sessionClosed(
        { ...sessionInfo(closed, i + 1), status: 'closed' },
        String(closed[i]) as CloseReasonName,
      );
    }
    for (let i = 0; i < wakes.length; i += 2) events.wake(String(wakes[i]), wakes[i + 1] === 1);
    if (events.pressure) for (const id of pressured) events.pressure(String(id));
  }

  #onEvent(text: string): void {
    if (!this.#context) return;
    let event: ClusterEvent;
    try {
      event = JSON.parse(text) as ClusterEvent;
    } catch {
      return;
    }
    const states = event.s?.[this.#node];
    if (states)
      for (const [mid, state, at, id] of states) this.#state(mid, state, at, id > 0 ? id : undefined);
    if (event.n === this.#node) return; // applied from the script's answer already
    for (const [version, change, pattern] of list(event.v)) this.#patternChange(version, change, pattern);
    const { events } = this.#context;
    for (const [id, reason] of list(event.c)) events.closedElsewhere?.(id, reason);
    for (const id of list(event.u)) events.wake(id, true);
    for (const id of list(event.w)) events.wake(id, false);
    if (events.pressure) for (const id of list(event.p)) events.pressure(id);
  }

  /** Applies one pattern change in order; a gap (a missed event) reloads the whole set. */
  #patternChange(version: number, change: '+' | '-', pattern: PathPattern): void {
    if (version <= this.#patternVersion) return;
    if (version !== this.#patternVersion + 1) {
      this.#reloadPatterns().catch((error: unknown) => this.#onRedisError(error));
      return;
    }
    this.#patternVersion = version;
    if (change === '+') {
      if (!this.#knownPatterns.has(pattern)) {
        this.#knownPatterns.add(pattern);
        this.#patterns.add(pattern, pattern);
      }
    } else if (this.#knownPatterns.delete(pattern)) {
      this.#patterns.remove(pattern, pattern);
    }
  }

  #reloadPatterns(): Promise<void> {
    this.#reloading ??= (async () => {
      try {
        const [version, patterns] = (await this.#run('patterns', [])) as [string, string[]];
        const fresh = new Set(patterns.map(String));
        for (const pattern of this.#knownPatterns) {
          if (!fresh.has(pattern)) {
            this.#knownPatterns.delete(pattern);
            this.#patterns.remove(pattern, pattern);
          }
        }
        for (const pattern of fresh) {
          if (this.#knownPatterns.has(pattern)) continue;
          this.#knownPatterns.add(pattern);
          this.#patterns.add(pattern, pattern);
        }
        this.#patternVersion = Number(version);
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  /** Runs a call that routes by pattern; when Redis says this node missed an addition, reloads and retries. */
  async #withPatterns(call: () => Promise<Reply>): Promise<Reply> {
    for (let attempt = 0; ; attempt++) {
      if (this.#reloading) await this.#reloading;
      const reply = await call();
      if (reply !== 'stale') return reply;
      if (attempt >= 5) {
        throw new SwitchboardError('SB_ERR_ENGINE_UNAVAILABLE', 'subscriptions keep changing; try again');
      }
      await this.#reloadPatterns();
    }
  }

  /** The patterns this node knows that match `path`, count first (the script's argument form). */
  #matching(path: Path): string[] {
    const matched: string[] = [''];
    this.#patterns.match(path, (pattern) => matched.push(pattern));
    matched[0] = String(matched.length - 1);
    return matched;
  }

  /**
   * Appends a message in the script's form: body, bytes, reliable, urgent, created, origin. A
   * message with a state listener gets an origin "<node>:<key>": its states come back to this
   * node (from any node) under that key.
   */
  #pushMessage(args: string[], message: Outbound): void {
    const body = JSON.stringify([
      message.path ?? null,
      message.channel ?? null,
      message.sender ?? null,
      message.json,
      message.urgent ? 1 : 0,
      message.reliable ? 1 : 0,
      message.createdAt,
      message.bytes,
    ]);
    let origin = '';
    if (message.onState) {
      origin = `${this.#node}:${(++this.#listenerKeys).toString(36)}`;
      this.#listeners.set(origin, message.onState);
      // Bounded: a listener whose message outlives this many newer ones is forgotten.
      if (this.#listeners.size > this.#options.maxTrackedMessages) {
        this.#listeners.delete(this.#listeners.keys().next().value as string);
      }
    }
    args.push(
      body,
      String(message.bytes),
      message.reliable ? '1' : '0',
      message.urgent ? '1' : '0',
      String(message.createdAt),
      origin,
    );
  }

  #listenerKeys = 0;

  #state(origin: string, state: MessageState, at: number, id: MessageId | undefined): void {
    const listener = this.#listeners.get(origin);
    if (!listener) return;
    if (state === 'delivered' || state === 'dropped') this.#listeners.delete(origin);
    listener(state, at, id);
  }

  /** The shared `Outbound` of a message: decoded once per node, then the same object for every recipient. */
  #decode(mid: string, body: string | undefined): Outbound {
    const cached = this.#messages.get(mid);
    if (cached) return cached;
    if (body === undefined) throw new SwitchboardError('SB_ERR_INTERNAL', `message ${mid} has no body`);
    const [path, channel, sender, json, urgent, reliable, createdAt, bytes] = JSON.parse(body) as [
      string | null,
      string | null,
      string | null,
      string,
      number,
      number,
      number,
      number,
    ];
    const message: Outbound = {
      path: path ?? undefined,
      channel: channel ?? undefined,
      sender: sender ?? undefined,
      json,
      bytes,
      urgent: urgent === 1,
      reliable: reliable === 1,
      createdAt,
    };
    this.#messages.set(mid, message);
    if (this.#messages.size > this.#options.messageCache) {
      this.#messages.delete(this.#messages.keys().next().value as string);
    }
    return message;
  }

  #freshEpoch(): string {
    return `${Date.now().toString(36)}.${randomBytes(6).toString('base64url')}`;
  }

  async #resync(): Promise<void> {
    const epoch = String(await this.#run('epoch', [this.#epoch, this.#freshEpoch()]));
    this.#epoch = epoch;
    await this.#reloadPatterns();
    this.#ctx.events.wakeAll?.();
  }

  #sweep(): void {
    if (this.#closed || this.#client?.isReady !== true) return;
    const { limits, now } = this.#ctx;
    const cutoff = now() - limits.inactivityTimeoutMs;
    this.#run('sweep', [String(cutoff), String(this.#options.sweepBatch)]).catch((error: unknown) =>
      this.#onRedisError(error),
    );
  }

  #onRedisError(error: unknown): void {
    // Before start() has finished, the error is start()'s to report.
    if (this.#closed || !this.#sha) return;
    this.#ctx.events.engineError?.(unavailable(error));
  }
}

const ENDED = new Map<CloseReasonName, Batch>();
/** The batch of a session that is gone, with why (one frozen object per reason). */
function ended(reason: CloseReasonName): Batch {
  let batch = ENDED.get(reason);
  if (!batch) {
    batch = Object.freeze({ acks: [], deliveries: [], ended: reason });
    ENDED.set(reason, batch);
  }
  return batch;
}

function sessionInfo(reply: Reply[], at: number): SessionInfo {
  const user = reply[at + 3];
  return {
    id: String(reply[at]),
    address: String(reply[at + 1]),
    protocol: String(reply[at + 2]) as ProtocolName,
    user: typeof user === 'string' ? user : undefined,
    status: 'open',
    createdAt: Number(reply[at + 4]),
    lastSeen: Number(reply[at + 5]),
  };
}

function pairs(flat: Reply[]): Array<[string, Reply]> {
  const out: Array<[string, Reply]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1] ?? null]);
  return out;
}

function list<T>(value: T[] | undefined): readonly T[] {
  return Array.isArray(value) ? value : [];
}

/** Script errors carry a stable code first ("SB_ERR_… message"); anything else means Redis is unreachable. */
function fromRedis(error: unknown): SwitchboardError {
  if (isSwitchboardError(error)) return error;
  const text = error instanceof Error ? error.message : String(error);
  const match = /^(SB_ERR_[A-Z_]+) (.*)$/s.exec(text);
  if (match && Object.hasOwn(ERROR_CODES, match[1] as string)) {
    return new SwitchboardError(match[1] as ErrorCode, match[2] as string);
  }
  return unavailable(error);
}

function unavailable(error: unknown): SwitchboardError {
  if (isSwitchboardError(error)) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new SwitchboardError('SB_ERR_ENGINE_UNAVAILABLE', `the Redis engine is unavailable: ${text}`, {
    cause: error,
  });
}
