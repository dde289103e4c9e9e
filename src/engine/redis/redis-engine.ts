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
 *   every local recipient. The node makes each mid itself (MessageIds), so no id ever comes round
 *   again, whatever Redis forgets: a cached body can never answer for another message.
 * - Routing: each node keeps a trie of the patterns someone subscribes to (a cache rebuilt from
 *   Redis) and sends the patterns that match a path with the publish. A routing script checks
 *   the node has seen the latest pattern addition; if not, the node reloads and retries.
 * - Wake-ups, closes, pattern changes and message states cross nodes as one PUBLISH per script
 *   call on `<prefix>ev`; the calling node applies the same events from the script's answer.
 * - Epochs: all of a cluster's keys live under `<prefix><epoch>:`. Every script call checks that
 *   the node's epoch is the current one (`<prefix>epoch`), else does nothing and says which is;
 *   the node then drops everything it cached of the old data (decoded messages, patterns, state
 *   listeners), lets every local connection take again and calls once more. After every
 *   (re)connection, before any other command, the node compares Redis' `run_id` with the one the
 *   epoch was last checked against (`<prefix>run`): a restart (empty, or back from an RDB snapshot
 *   or an `everysec` AOF, i.e. rolled back) starts a new epoch, a new empty keyspace, unless the
 *   engine is `durable`. The node that starts one deletes the old keyspace in the background.
 * - Failures: commands fail fast while Redis is away (no offline queue) with
 *   SB_ERR_ENGINE_UNAVAILABLE (503, retry), and the client reconnects by itself. After data was
 *   lost or rolled back, sessions not found for twice the inactivity timeout are reported closed
 *   as `lost` (4104), never silently replaced or resumed from the past.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createClient } from '@redis/client';
import type { CloseReasonName } from '../../core/close-reasons.js';
import { SwitchboardError, isSwitchboardError } from '../../core/errors.js';
import { parsePattern } from '../../core/paths.js';
import type {
  Address,
  Batch,
  ClientMessageId,
  MessageId,
  MessageState,
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
import { KeyspaceSweeper, MessageIds, randomEpoch } from './keyspace.js';
import { StateListeners } from './message-states.js';
import { MessageCache, messageArgs } from './messages.js';
import { PatternRoutes } from './patterns.js';
import {
  EMPTY_BATCH,
  batches,
  fromRedis,
  list,
  pairs,
  queueSnapshot,
  sessionInfo,
  unavailable,
  type Reply,
} from './replies.js';
import { ResyncGate } from './resync-gate.js';

const SCRIPT = readFileSync(new URL('./engine.lua', import.meta.url), 'utf8');

export interface RedisEngineOptions {
  /** `redis://[[user]:password@]host:port[/db]` or `rediss://` for TLS. */
  readonly url: string;
  /** Prefix of every key and channel, so several clusters (or tests) share one Redis. Default `sb:`. */
  readonly prefix?: string;
  /** Decoded messages kept per node (shared by local recipients). Default 10,000. */
  readonly messageCache?: number;
  /** What those messages may hold in all (`Outbound.cost` each). Default 64 MiB. */
  readonly messageCacheBytes?: number;
  /** Listeners of message states kept per node at most (oldest forgotten first). Default 100,000. */
  readonly maxTrackedMessages?: number;
  /** Inactive sessions closed per sweep at most. Default 1,000. */
  readonly sweepBatch?: number;
  /**
   * The operator promises that Redis persists every write before it answers (`appendonly yes`
   * and `appendfsync always`): a Redis restart then lost nothing, and the cluster keeps its
   * sessions. Otherwise (the default) every restart starts a new epoch: the data Redis came back
   * with (an RDB snapshot or an `everysec` AOF: the past) is dropped and its sessions are
   * reported `lost`. Default false.
   */
  readonly durable?: boolean;
}

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
  /** The epoch the call ran in. */
  readonly e?: string;
  readonly u?: SessionId[];
  readonly w?: SessionId[];
  readonly p?: SessionId[];
  readonly c?: Array<[SessionId, CloseReasonName]>;
  readonly s?: Record<string, Array<[string, MessageState, number, number]>>;
  readonly v?: Array<[number, '+' | '-', PathPattern]>;
}

const ENQUEUE_RESULTS = new Set<EnqueueResult>(['queued', 'discarded', 'full', 'closed', 'no_session']);
/** The script's answer per received message: 0 duplicate, 1 new, 2 refused subscribe. */
const RECEIVE_OUTCOMES: readonly ReceiveOutcome[] = [
  'duplicate',
  'new',
  'too_many_subscriptions',
  'acks_pending',
];
/** Epochs a node left (or checked) and remembers, so their late events are ignored. */
const PAST_EPOCHS = 16;

/** A script call's own arguments, or how to build them (again, for a retry). */
type Args = readonly string[] | (() => readonly string[]);

interface CallOptions {
  /** Origins of state listeners of messages the call carries (see StateListeners). */
  readonly origins?: readonly string[];
  /** Part of the resync: runs before the gate that holds every other command opens. */
  readonly early?: boolean;
}

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
  #started = false;
  #closed = false;
  /** The epoch (keyspace) this node works in; '' until start() has checked it. */
  #epoch = '';
  /** Offered with every call in case a new epoch must start; replaced once Redis took it. */
  #candidate = randomEpoch();
  /** Redis' run_id, read on the current connection before anything else ran on it. */
  #runId = '';
  /** Epochs this node left or was told of and checked: their late events are ignored. */
  readonly #pastEpochs = new Set<string>();
  /** Every command waits here until the current connection's epoch has been checked. */
  readonly #gate: ResyncGate;
  readonly #patterns = new PatternRoutes();
  #reloading: Promise<void> | undefined;
  readonly #ids = new MessageIds();
  readonly #messages: MessageCache;
  readonly #listeners: StateListeners;
  readonly #sweeper: KeyspaceSweeper;
  #sweepTimer: NodeJS.Timeout | undefined;
  /** Redis commands this node sent (script calls count one each), for the benchmark. */
  calls = 0;

  constructor(options: RedisEngineOptions) {
    this.#options = {
      prefix: 'sb:',
      messageCache: 10_000,
      messageCacheBytes: 64 * 2 ** 20,
      maxTrackedMessages: 100_000,
      sweepBatch: 1_000,
      durable: false,
      ...options,
    };
    this.#prefix = this.#options.prefix;
    this.#messages = new MessageCache(this.#options.messageCache, this.#options.messageCacheBytes);
    this.#listeners = new StateListeners(this.#node, this.#options.maxTrackedMessages);
    this.#gate = new ResyncGate(
      () => this.#resync(),
      () => this.#client?.isReady === true,
      (error) => this.#onRedisError(error),
    );
    this.#sweeper = new KeyspaceSweeper(
      (args) => this.#command(args),
      (error) => this.#onRedisError(error),
    );
  }

  get #ctx(): EngineContext {
    if (!this.#context) throw new SwitchboardError('SB_ERR_CONFIG', 'engine used before start()');
    return this.#context;
  }

  get #redis(): RedisClient {
    if (!this.#client) throw new SwitchboardError('SB_ERR_CONFIG', 'engine used before start()');
    return this.#client;
  }

  /** Where the current epoch's keys live (engine.lua's P). */
  get #keyspace(): string {
    return `${this.#prefix}${this.#epoch}:`;
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
      limits.dedupeWindowBytes,
    ].join(',');
    const ready = () => this.#sha !== '';
    const client = makeClient(this.#options.url, ready);
    client.on('error', (error: unknown) => this.#onRedisError(error));
    const subscriber = makeClient(this.#options.url, ready);
    subscriber.on('error', (error: unknown) => this.#onRedisError(error));
    // A Redis restart always breaks the connection, so a new connection may lead to a Redis that
    // lost or rolled back its data: nothing else runs on it until the epoch has been checked. The
    // gate closes here, synchronously, before any other code can send a command.
    // (Before the script is loaded, start() has not got that far: it checks once it has.)
    client.on('ready', () => {
      if (this.#sha !== '' && !this.#closed) void this.#gate.request();
    });
    // Events published while the subscriber was away are lost: catch up the same way.
    subscriber.on('ready', () => {
      if (this.#sha !== '' && !this.#closed && client.isReady) void this.#gate.request();
    });
    this.#client = client;
    this.#subscriber = subscriber;
    try {
      await client.connect();
      await subscriber.connect();
      await subscriber.subscribe(`${this.#prefix}ev`, (message: string) => this.#onEvent(message));
      this.#sha = String(await this.#command(['SCRIPT', 'LOAD', SCRIPT], true));
      await this.#gate.request();
      await (this.#reloading ?? this.#reloadPatterns());
    } catch (error) {
      await this.close();
      throw unavailable(error);
    }
    this.#started = true;
    this.#sweepTimer = setInterval(() => this.#sweep(), limits.sweepIntervalMs);
    this.#sweepTimer.unref();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    this.#gate.stop();
    this.#sweeper.stop();
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
      claim?.owner ?? '',
      claim?.user ?? '',
      claim?.user === undefined ? '0' : '1',
      claim?.instance ?? '',
      claim?.seq === undefined ? '' : String(claim.seq),
    ])) as Reply[];
    switch (reply[0]) {
      case 'open':
        return { status: 'open', session: sessionInfo(reply, 1), ...(reply[7] === 1 && { stale: true }) };
      case 'closed':
        return { status: 'closed', reason: String(reply[1]) as CloseReasonName };
      default:
        return { status: 'unknown' };
    }
  }

  // Plain reads, outside the script: in the current keyspace, with no epoch check of their own.
  async findByAddress(address: Address): Promise<SessionId | undefined> {
    const id = await this.#command(['HGET', `${this.#keyspace}addr`, address]);
    return typeof id === 'string' ? id : undefined;
  }

  async touch(ids: readonly SessionId[]): Promise<void> {
    if (ids.length > 0) await this.#run('touch', ids);
  }

  async closeSession(id: SessionId, reason: CloseReasonName): Promise<boolean> {
    return (await this.#run('close', [id, reason])) === 1;
  }

  async sessionCount(): Promise<Map<ProtocolName, number>> {
    const flat = await this.#command(['HGETALL', `${this.#keyspace}protos`]);
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
    // Encoded once: a retry (stale patterns, a new epoch) sends the same mids and registers no
    // second listener. The patterns are matched anew for each try.
    const origins: string[] = [];
    const encoded = messages.map(({ route }) =>
      route.kind === 'publish' || route.kind === 'direct' ? this.#messageArgs(route.message, origins) : [],
    );
    const build = () => {
      const args: string[] = [sessionId, String(this.#patterns.version), String(messages.length)];
      messages.forEach(({ id, route }, i) => {
        args.push(id, route.kind);
        switch (route.kind) {
          case 'publish':
            args.push(route.path, ...this.#patterns.matching(route.path), ...(encoded[i] ?? []));
            break;
          case 'direct':
            args.push(route.to, ...(encoded[i] ?? []));
            break;
          case 'subscribe':
          case 'unsubscribe':
            args.push(String(route.patterns.length), ...route.patterns);
            break;
          case 'server':
            break;
        }
      });
      return args;
    };
    const reply = await this.#withPatterns(() => this.#run('receive', build, { origins }));
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
    const origins: string[] = [];
    const args = [sessionId, onFull, ...this.#messageArgs(message, origins)];
    const result = String(await this.#run('enqueue', args, { origins })) as EnqueueResult;
    if (!ENQUEUE_RESULTS.has(result))
      throw new SwitchboardError('SB_ERR_INTERNAL', `engine answered ${result}`);
    return result;
  }

  async publish(path: Path, message: Outbound, except: SessionId | undefined): Promise<PublishResult> {
    const origins: string[] = [];
    const encoded = this.#messageArgs(message, origins);
    const build = () => [
      String(this.#patterns.version),
      except ?? '',
      ...this.#patterns.matching(path),
      ...encoded,
    ];
    const reply = (await this.#withPatterns(() => this.#run('publish', build, { origins }))) as number[];
    return {
      matched: reply[0] ?? 0,
      queued: reply[1] ?? 0,
      discarded: reply[2] ?? 0,
      overflowed: reply[3] ?? 0,
    };
  }

  async take(sessionId: SessionId, options: TakeOptions): Promise<Batch> {
    const { resend, resendAfter } = options;
    const [batch] = await this.takeMany([{ sessionId, resend, resendAfter }], options);
    return batch ?? EMPTY_BATCH;
  }

  async takeMany(requests: readonly TakeRequest[], limits: Omit<TakeOptions, 'resend'>): Promise<Batch[]> {
    if (requests.length === 0) return [];
    const args = [String(limits.maxMessages), String(limits.maxBytes), String(requests.length)];
    for (const r of requests) {
      // resend: the id after which to send the unacked tail again, or -1 for none.
      args.push(
        r.sessionId,
        r.resend ? String(r.resendAfter ?? 0) : '-1',
        r.owner ?? '',
        r.claim === true ? '1' : '0',
      );
    }
    const [rawBatches, rawBodies] = (await this.#run('take', args)) as [Reply[][], Reply[]];
    return batches(rawBatches, rawBodies, (mid, body) => this.#messages.decode(mid, body));
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
    return ((await this.#command(['SMEMBERS', `${this.#keyspace}sub:${sessionId}`])) as string[]).map(String);
  }

  async inspect(sessionId: SessionId): Promise<QueueSnapshot | undefined> {
    const reply = (await this.#run('inspect', [sessionId])) as Reply[] | null;
    if (!Array.isArray(reply)) return undefined;
    return queueSnapshot(reply, (mid, body) => this.#messages.decode(mid, body));
  }

  // ---------------------------------------------------------------- script calls

  /** Runs one engine operation (one script call) in the current epoch and applies what it reports. */
  async #run(op: string, args: Args, options: CallOptions = {}): Promise<Reply> {
    return (await this.#call(op, args, options)).result;
  }

  /**
   * One script call, and the epoch it ran in. When the script answers that the node's epoch is
   * not the current one (nothing ran), the node leaves the old data and calls once more, with
   * the arguments built again.
   */
  async #call(
    op: string,
    args: Args,
    { origins = [], early = false }: CallOptions,
  ): Promise<{ result: Reply; epoch: string }> {
    const { now } = this.#ctx;
    for (let attempt = 1; ; attempt++) {
      // No await between the last look at the gate and the send (see ResyncGate.pending).
      if (!early) for (let wait = this.#gate.pending(); wait; wait = this.#gate.pending()) await wait;
      const epoch = this.#epoch;
      const own = typeof args === 'function' ? args() : args;
      const command = [
        'EVALSHA',
        this.#sha,
        '0',
        this.#prefix,
        op,
        this.#node,
        String(now()),
        this.#limits,
        epoch,
        this.#candidate,
        this.#runId,
        ...own,
      ];
      let reply: Reply;
      try {
        reply = await this.#eval(command, early);
      } catch (error) {
        // A script error (SB_ERR_… other than unavailable) stored nothing; anything else may have
        // run in `epoch` before the answer was lost.
        if (isSwitchboardError(error) && error.code !== 'SB_ERR_ENGINE_UNAVAILABLE')
          this.#listeners.forget(origins);
        else this.#listeners.sentTo(origins, epoch, this.#epoch, now());
        throw error;
      }
      if (Array.isArray(reply)) {
        this.#apply(reply, epoch);
        this.#listeners.sentTo(origins, epoch, this.#epoch, now());
        return { result: reply[0] ?? null, epoch };
      }
      // "EPOCH <current>": another node moved on, or the epoch key was gone and this node's
      // candidate started a new epoch over the keyspace it knew.
      if (this.#enter(String(reply).slice('EPOCH '.length), epoch)) this.#refresh();
      if (attempt >= 2) {
        // Nothing ran: no state of these messages will ever come.
        this.#listeners.forget(origins);
        throw new SwitchboardError(
          'SB_ERR_ENGINE_UNAVAILABLE',
          'the Redis data changed during the call; try again',
        );
      }
    }
  }

  /** EVALSHA, loading the script again when Redis lost it (a restart, SCRIPT FLUSH). */
  async #eval(command: string[], early: boolean): Promise<Reply> {
    try {
      this.calls++;
      return await this.#redis.sendCommand<Reply>(command);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw fromRedis(error);
      this.#sha = String(await this.#command(['SCRIPT', 'LOAD', SCRIPT], early));
      command[1] = this.#sha;
      return this.#command(command, early);
    }
  }

  /** One command, once the connection's epoch has been checked (`early`: part of that check). */
  async #command(args: string[], early = false): Promise<Reply> {
    if (!early) for (let wait = this.#gate.pending(); wait; wait = this.#gate.pending()) await wait;
    this.calls++;
    try {
      return await this.#redis.sendCommand<Reply>(args);
    } catch (error) {
      throw fromRedis(error);
    }
  }

  // ---------------------------------------------------------------- epochs

  /**
   * After every (re)connection, before any other command: has Redis restarted since the cluster
   * (or this node) last checked, i.e. is its run_id another? Then, unless `durable`, a new epoch
   * starts: Redis came back empty or with the past (a snapshot), and none of it may be served.
   * Either way the node catches up on what events would have told it meanwhile.
   */
  async #resync(): Promise<void> {
    const info = String(await this.#command(['INFO', 'server'], true));
    const run = /^run_id:(\w+)/m.exec(info)?.[1];
    if (run === undefined)
      throw new SwitchboardError('SB_ERR_ENGINE_UNAVAILABLE', 'INFO server names no run_id');
    const restartedHere = this.#runId !== '' && this.#runId !== run;
    this.#runId = run;
    const durable = this.#options.durable ? '1' : '0';
    const [current, replaced, restarted] = (await this.#run('epoch', [durable], { early: true })) as [
      string,
      string | null,
      number,
    ];
    const entered = this.#enter(String(current), typeof replaced === 'string' ? replaced : undefined);
    // Durable: Redis kept everything, and mids never repeat, so the caches are still right. They
    // go anyway: nothing a node caches may outlive the Redis it was read from.
    if (!entered && (restarted === 1 || restartedHere)) this.#forget();
    this.#refresh();
  }

  /**
   * Redis says `epoch` is current. If this node started it (its candidate came back), it deletes
   * the keyspace the epoch replaced. If the epoch is new to this node, the node leaves the old
   * data: everything it keyed to it goes, since none of it exists in the new keyspace, and the
   * listeners of messages sent there hear `dropped`. Returns whether the epoch was new.
   */
  #enter(epoch: string, replaced: string | undefined): boolean {
    if (epoch === this.#candidate) {
      this.#candidate = randomEpoch();
      if (replaced) this.#sweeper.sweep(`${this.#prefix}${replaced}:`);
    }
    if (epoch === this.#epoch) return false;
    const old = this.#epoch;
    this.#epoch = epoch;
    this.#pastEpoch(old);
    this.#forget();
    this.#listeners.dropOutside(epoch, this.#ctx.now());
    // Counted and logged by the hub (engine_errors): the operator should know data was lost.
    if (old !== '') {
      this.#ctx.events.sessionsLost?.();
      this.#ctx.events.engineError?.(
        new SwitchboardError(
          'SB_ERR_ENGINE_UNAVAILABLE',
          `Redis lost or rolled back the cluster's data (a restart or a flush): now in epoch ${epoch}; sessions of the old data are reported lost`,
        ),
      );
    }
    return true;
  }

  /** Forgets what was read from Redis: decoded messages and patterns (reloaded by #refresh). */
  #forget(): void {
    this.#messages.clear();
    this.#patterns.clear();
  }

  /** Catches up on what events may not have said: the patterns, and wake-ups (every local connection takes again). */
  #refresh(): void {
    this.#reloadPatterns().catch((error: unknown) => this.#onRedisError(error));
    // At start there is nothing to wake yet.
    if (this.#started) this.#ctx.events.wakeAll?.();
  }

  #pastEpoch(epoch: string): void {
    if (epoch === '') return;
    this.#pastEpochs.delete(epoch);
    this.#pastEpochs.add(epoch);
    if (this.#pastEpochs.size > PAST_EPOCHS)
      this.#pastEpochs.delete(this.#pastEpochs.values().next().value as string);
  }

  // ---------------------------------------------------------------- what calls and events report

  /** Applies what a call answered in `epoch` reports; pattern changes only while that is still the node's epoch. */
  #apply(reply: Reply[], epoch: string): void {
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
      this.#listeners.state(
        String(states[i]),
        states[i + 1] as MessageState,
        Number(states[i + 2]),
        id > 0 ? id : undefined,
      );
    }
    if (epoch === this.#epoch) {
      for (let i = 0; i < changes.length; i += 3) {
        this.#patternChange(Number(changes[i]), changes[i + 1] as '+' | '-', String(changes[i + 2]));
      }
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
    if (!this.#context || this.#epoch === '') return;
    let event: ClusterEvent;
    try {
      event = JSON.parse(text) as ClusterEvent;
    } catch {
      return;
    }
    if (event.e !== this.#epoch) {
      // Another epoch: one this node left (its late events mean nothing now), or a new one it has
      // not entered yet: the resync asks Redis which is current, enters it and catches up.
      const epoch = String(event.e);
      if (!this.#pastEpochs.has(epoch)) {
        this.#pastEpoch(epoch);
        void this.#gate.request();
      }
      return;
    }
    const states = event.s?.[this.#node];
    if (states)
      for (const [mid, state, at, id] of states)
        this.#listeners.state(mid, state, at, id > 0 ? id : undefined);
    if (event.n === this.#node) return; // applied from the script's answer already
    for (const [version, change, pattern] of list(event.v)) this.#patternChange(version, change, pattern);
    const { events } = this.#context;
    for (const [id, reason] of list(event.c)) events.closedElsewhere?.(id, reason);
    for (const id of list(event.u)) events.wake(id, true);
    for (const id of list(event.w)) events.wake(id, false);
    if (events.pressure) for (const id of list(event.p)) events.pressure(id);
  }

  // ---------------------------------------------------------------- patterns and messages

  /** Applies one pattern change in order; a gap (a missed event) reloads the whole set. */
  #patternChange(version: number, change: '+' | '-', pattern: PathPattern): void {
    if (!this.#patterns.change(version, change, pattern)) {
      this.#reloadPatterns().catch((error: unknown) => this.#onRedisError(error));
    }
  }

  #reloadPatterns(): Promise<void> {
    this.#reloading ??= (async () => {
      try {
        for (let attempt = 1; ; attempt++) {
          const { result, epoch } = await this.#call('patterns', [], {});
          if (epoch === this.#epoch) {
            const [version, patterns] = result as [string, string[]];
            this.#patterns.replace(Number(version), patterns.map(String));
            return;
          }
          // The node entered a new epoch while the answer was on its way: load that one.
          if (attempt >= 5)
            throw new SwitchboardError('SB_ERR_ENGINE_UNAVAILABLE', 'the Redis data keeps changing');
        }
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

  /**
   * A message in the script's form under a new mid. A message with a state listener gets an
   * origin "<node>:<key>" (added to `origins`): its states come back to this node, from any node.
   */
  #messageArgs(message: Outbound, origins: string[]): string[] {
    let origin = '';
    if (message.onState) {
      origin = this.#listeners.add(message.onState);
      origins.push(origin);
    }
    return messageArgs(this.#ids.next(origin !== ''), message, origin);
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
    if (this.#closed || !this.#started) return;
    this.#ctx.events.engineError?.(unavailable(error));
  }
}
