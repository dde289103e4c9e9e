/**
 * The embedded engine: all state in this process's memory. The default, and the reference the
 * engine contract suite is written against.
 *
 * Fan-out is eager: `publish` walks the router once and appends one small entry (a reference to
 * the shared `Outbound`, plus its per-session state) to each matching session's queue; no
 * promise, timer or payload copy per subscriber. Ids are assigned in `take`, so the wire order of
 * a session is always its id order even though urgent messages overtake normal ones.
 * @module
 */
import type { CloseReasonName } from '../../core/close-reasons.js';
import { SwitchboardError } from '../../core/errors.js';
import { idCost } from '../../core/memory-cost.js';
import {
  findById,
  MemorySession,
  newEntry,
  NO_ACKS,
  releaseEntry,
  snapshot,
  acksFull,
  remember,
  takeAcks,
  type Entry,
} from './memory-session.js';
import { parsePattern } from '../../core/paths.js';
import { PathRouter } from '../../core/router.js';
import {
  INT32_MAX,
  type Address,
  type Batch,
  type ClientMessageId,
  type Delivery,
  type MessageId,
  type MessageState,
  type Outbound,
  type Path,
  type PathPattern,
  type ProtocolName,
  type QueueSnapshot,
  type SessionId,
  type SessionInfo,
} from '../../core/types.js';
import type {
  Engine,
  EngineContext,
  EnqueueResult,
  Claim,
  PublishResult,
  Received,
  ReceiveOutcome,
  Route,
  SessionInit,
  SessionLookup,
  TakeOptions,
  TakeRequest,
} from '../engine.js';

/** Whether a batch of `count` messages and `bytes` has room for `entry` (a first message always fits). */
function fits(count: number, bytes: number, entry: Entry, options: TakeOptions): boolean {
  return count < options.maxMessages && (count === 0 || bytes + entry.message.bytes <= options.maxBytes);
}

const EMPTY_BATCH: Batch = Object.freeze({ acks: [], deliveries: [] });
const SUPERSEDED: Batch = Object.freeze({ acks: [], deliveries: [], superseded: true });

export class MemoryEngine implements Engine {
  readonly name = 'memory';
  #context: EngineContext | undefined;
  readonly #sessions = new Map<SessionId, MemorySession>();
  /** The same sessions in order of `lastSeen`, oldest first: the inactivity sweep stops at the first live one. */
  readonly #bySeen = new Map<SessionId, MemorySession>();
  readonly #byAddress = new Map<Address, MemorySession>();
  readonly #tombstones = new Map<SessionId, CloseReasonName>();
  readonly #router = new PathRouter<MemorySession>();
  #publishStamp = 0;
  #sweepTimer: NodeJS.Timeout | undefined;

  get #ctx(): EngineContext {
    if (!this.#context) throw new SwitchboardError('SB_ERR_CONFIG', 'engine used before start()');
    return this.#context;
  }

  start(context: EngineContext): Promise<void> {
    this.#context = context;
    this.#sweepTimer = setInterval(() => this.#sweep(), context.limits.sweepIntervalMs);
    this.#sweepTimer.unref();
    return Promise.resolve();
  }

  close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    return Promise.resolve();
  }

  openSession(init: SessionInit): Promise<SessionInfo> {
    const { limits, now } = this.#ctx;
    if (this.#sessions.has(init.id)) {
      return Promise.reject(new SwitchboardError('SB_ERR_BAD_REQUEST', `session ${init.id} is already open`));
    }
    if (this.#sessions.size >= limits.maxSessions) {
      return Promise.reject(
        new SwitchboardError(
          'SB_ERR_TOO_MANY_SESSIONS',
          `the engine holds its maximum of ${limits.maxSessions} sessions`,
        ),
      );
    }
    if (this.#byAddress.has(init.address)) {
      return Promise.reject(new SwitchboardError('SB_ERR_BAD_REQUEST', `address ${init.address} is taken`));
    }
    const session = new MemorySession(init, now());
    this.#sessions.set(session.id, session);
    this.#bySeen.set(session.id, session);
    this.#byAddress.set(session.address, session);
    this.#tombstones.delete(session.id);
    return Promise.resolve(session.info());
  }

  getSession(id: SessionId, claim?: Claim): Promise<SessionLookup> {
    const session = this.#sessions.get(id);
    if (session) {
      const stale = claim !== undefined && !session.claim(claim);
      return Promise.resolve({ status: 'open', session: session.info(), ...(stale && { stale }) });
    }
    const reason = this.#tombstones.get(id);
    return Promise.resolve(reason ? { status: 'closed', reason } : { status: 'unknown' });
  }

  findByAddress(address: Address): Promise<SessionId | undefined> {
    return Promise.resolve(this.#byAddress.get(address)?.id);
  }

  touch(ids: readonly SessionId[]): Promise<void> {
    const now = this.#ctx.now();
    for (const id of ids) {
      const session = this.#sessions.get(id);
      if (!session) continue;
      session.lastSeen = now;
      this.#bySeen.delete(id);
      this.#bySeen.set(id, session);
    }
    return Promise.resolve();
  }

  closeSession(id: SessionId, reason: CloseReasonName): Promise<boolean> {
    const session = this.#sessions.get(id);
    if (!session) return Promise.resolve(false);
    this.#close(session, reason);
    return Promise.resolve(true);
  }

  sessionCount(): Promise<Map<ProtocolName, number>> {
    const counts = new Map<ProtocolName, number>();
    for (const session of this.#sessions.values()) {
      counts.set(session.protocol, (counts.get(session.protocol) ?? 0) + 1);
    }
    return Promise.resolve(counts);
  }

  receive(sessionId: SessionId, messages: readonly Received[]): Promise<ReceiveOutcome[]> {
    const session = this.#sessions.get(sessionId);
    if (!session) return Promise.reject(noSession(sessionId));
    const { limits, counters } = this.#ctx;
    const dedupe = (session.dedupe ??= { seen: new Set(), bytes: 0 });
    const outcomes = this.#subscriptionOutcomes(session, messages, dedupe.seen);
    if (messages.length > 0 && session.pendingAcks === NO_ACKS) session.pendingAcks = [];
    for (let i = 0; i < messages.length; i++) {
      if (outcomes[i] === 'too_many_subscriptions') continue;
      const { id, route } = messages[i] as Received;
      // Every pending ack's id must stay in the window (pendingAckBounds): past the bound the
      // message waits in its client, not here.
      if (acksFull(session, id, limits)) {
        outcomes[i] = 'acks_pending';
        continue;
      }
      session.pendingAcks.push(id);
      session.pendingAckBytes += idCost(id);
      const known = dedupe.seen.has(id);
      remember(dedupe, id, limits);
      if (known) {
        counters.count('duplicates');
        outcomes[i] = 'duplicate';
        continue;
      }
      this.#route(session, route);
    }
    if (messages.length > 0 && this.#sessions.has(sessionId)) this.#ctx.events.wake(sessionId, false);
    return Promise.resolve(outcomes);
  }

  /**
   * Decides, before anything is recorded, which subscribes would take the session past its limit:
   * those are refused one by one (`too_many_subscriptions`); every other message is `new` for now.
   */
  #subscriptionOutcomes(
    session: MemorySession,
    messages: readonly Received[],
    seen: ReadonlySet<ClientMessageId>,
  ): ReceiveOutcome[] {
    const outcomes = messages.map((): ReceiveOutcome => 'new');
    if (!messages.some(({ route }) => route.kind === 'subscribe')) return outcomes;
    const patterns = new Set(session.patterns);
    const max = this.#ctx.limits.maxSubscriptions;
    messages.forEach(({ id, route }, i) => {
      if (seen.has(id) || (route.kind !== 'subscribe' && route.kind !== 'unsubscribe')) return;
      if (route.kind === 'unsubscribe') {
        for (const pattern of route.patterns) patterns.delete(pattern);
        return;
      }
      const added = route.patterns.filter((p) => !patterns.has(p));
      if (patterns.size + new Set(added).size > max) {
        outcomes[i] = 'too_many_subscriptions';
        return;
      }
      for (const pattern of added) patterns.add(pattern);
    });
    return outcomes;
  }

  #route(session: MemorySession, route: Route): void {
    switch (route.kind) {
      case 'publish':
        this.#publish(route.path, route.message, session.id);
        return;
      case 'direct': {
        const recipient = this.#sessions.get(route.to);
        if (recipient) this.#admit(recipient, route.message, 'close');
        return;
      }
      case 'subscribe':
        this.#subscribe(session, route.patterns);
        return;
      case 'unsubscribe':
        this.#unsubscribe(session, route.patterns);
        return;
      case 'server':
        return;
    }
  }

  requeueAcks(sessionId: SessionId, acks: readonly ClientMessageId[]): Promise<void> {
    const session = this.#sessions.get(sessionId);
    if (!session || acks.length === 0) return Promise.resolve();
    const { limits } = this.#ctx;
    // Behind the acks pending now, and remembered as recent again: the ids of every pending ack
    // stay in the window (see pendingAckBounds).
    const dedupe = (session.dedupe ??= { seen: new Set(), bytes: 0 });
    session.pendingAcks = [...session.pendingAcks, ...acks];
    for (const id of acks) {
      session.pendingAckBytes += idCost(id);
      remember(dedupe, id, limits);
    }
    this.#ctx.events.wake(sessionId, false);
    return Promise.resolve();
  }

  ack(sessionId: SessionId, ids: readonly MessageId[]): Promise<number> {
    const session = this.#sessions.get(sessionId);
    if (!session || ids.length === 0) return Promise.resolve(0);
    const time = this.#ctx.now();
    const before = session.tail.length;
    let acked = 0;
    for (const id of ids) {
      const entry = findById(session.tail, id);
      if (entry && entry.state !== 'delivered') {
        this.#delivered(session, entry, time);
        acked++;
      }
    }
    if (acked > 0) {
      const kept: Entry[] = [];
      for (const entry of session.tail) {
        if (entry.state === 'delivered') releaseEntry(entry);
        else kept.push(entry);
      }
      session.tail = kept;
      this.#madeRoom(session, before);
    }
    return Promise.resolve(acked);
  }

  ackUpTo(sessionId: SessionId, upTo: MessageId): Promise<number> {
    const session = this.#sessions.get(sessionId);
    if (!session) return Promise.resolve(0);
    const tail = session.tail;
    let acked = 0;
    while (acked < tail.length && (tail[acked] as Entry).id! <= upTo) acked++;
    if (acked === 0) return Promise.resolve(0);
    const time = this.#ctx.now();
    for (const entry of tail.splice(0, acked)) {
      this.#delivered(session, entry, time);
      releaseEntry(entry);
    }
    this.#madeRoom(session, acked + tail.length);
    return Promise.resolve(acked);
  }

  /**
   * A take stops at a full unacked tail without saying `more`; acks that make room there wake
   * the session so the messages behind it go out. Any other ack needs no flush.
   */
  #madeRoom(session: MemorySession, tailBefore: number): void {
    if (tailBefore >= this.#ctx.limits.maxUnacked && session.normal.length + session.urgent.length > 0) {
      this.#ctx.events.wake(session.id, false);
    }
  }

  enqueue(sessionId: SessionId, message: Outbound, onFull: 'reject' | 'close'): Promise<EnqueueResult> {
    const session = this.#sessions.get(sessionId);
    if (!session) return Promise.resolve('no_session');
    return Promise.resolve(this.#admit(session, message, onFull));
  }

  publish(path: Path, message: Outbound, except: SessionId | undefined): Promise<PublishResult> {
    return Promise.resolve(this.#publish(path, message, except));
  }

  #publish(path: Path, message: Outbound, except: SessionId | undefined): PublishResult {
    const stamp = ++this.#publishStamp;
    const time = this.#ctx.now();
    let matched = 0;
    let queued = 0;
    let discarded = 0;
    const overflowing: MemorySession[] = [];
    this.#router.match(path, (session) => {
      if (session.publishStamp === stamp || session.id === except) return;
      session.publishStamp = stamp;
      matched++;
      const result = this.#admit(session, message, 'reject', time);
      if (result === 'queued') queued++;
      else if (result === 'discarded') discarded++;
      else if (result === 'full') overflowing.push(session);
    });
    // Closed after the walk: closing unsubscribes, which must not mutate the trie mid-match.
    for (const session of overflowing) this.#close(session, 'overflow');
    return { matched, queued, discarded, overflowed: overflowing.length };
  }

  take(sessionId: SessionId, options: TakeOptions): Promise<Batch> {
    return Promise.resolve(this.#take(sessionId, options));
  }

  takeMany(requests: readonly TakeRequest[], limits: Omit<TakeOptions, 'resend'>): Promise<Batch[]> {
    const batches: Batch[] = [];
    const time = this.#ctx.now();
    const fresh = { resend: false, maxMessages: limits.maxMessages, maxBytes: limits.maxBytes };
    for (const request of requests) {
      const session = this.#sessions.get(request.sessionId);
      if (session && request.owner !== undefined) {
        if (request.claim) session.owner = request.owner;
        else if (session.owner !== request.owner) {
          batches.push(SUPERSEDED);
          continue;
        }
      }
      const options = request.resend
        ? { ...fresh, resend: true, resendAfter: request.resendAfter ?? 0 }
        : fresh;
      batches.push(this.#take(request.sessionId, options, time));
    }
    return Promise.resolve(batches);
  }

  #take(sessionId: SessionId, options: TakeOptions, time = this.#ctx.now()): Batch {
    const session = this.#sessions.get(sessionId);
    if (!session) {
      const reason = this.#tombstones.get(sessionId);
      return reason ? { acks: [], deliveries: [], ended: reason } : EMPTY_BATCH;
    }
    const { limits, counters } = this.#ctx;
    const { acks, more: moreAcks } = takeAcks(session, limits);
    const deliveries: Delivery[] = [];
    let bytes = 0;
    let more = moreAcks;

    if (options.resend) {
      const after = options.resendAfter ?? 0;
      for (const entry of session.tail) {
        if ((entry.id as MessageId) <= after) continue;
        if (!fits(deliveries.length, bytes, entry, options)) {
          more = true;
          break;
        }
        this.#setState(entry, 'retrying', time);
        entry.attempts++;
        bytes += entry.message.bytes;
        deliveries.push({ id: entry.id as MessageId, message: entry.message, retry: true });
        counters.count('retransmits');
      }
    }
    let exhausted = false;
    while (session.tail.length < limits.maxUnacked) {
      const lane = session.urgent.length > 0 ? session.urgent : session.normal;
      const entry = lane.peek();
      if (!entry) break;
      if (!fits(deliveries.length, bytes, entry, options)) {
        more = true;
        break;
      }
      if (session.nextId > INT32_MAX) {
        exhausted = true;
        break;
      }
      lane.shift();
      if (!entry.message.reliable) {
        session.count--;
        session.bytes -= entry.message.cost;
        if (time - entry.message.createdAt > limits.unreliableTtlMs) {
          this.#discard(entry, time);
          continue;
        }
      }
      entry.id = session.nextId++;
      entry.attempts = 1;
      this.#setState(entry, 'sent', time);
      bytes += entry.message.bytes;
      deliveries.push({ id: entry.id, message: entry.message, retry: false });
      if (entry.message.reliable) session.tail.push(entry);
    }
    if (exhausted && deliveries.length === 0) this.#close(session, 'sequence_exhausted');
    if (acks.length === 0 && deliveries.length === 0) return EMPTY_BATCH;
    // Ids ran out behind what this batch carries: take again at once, which ends the session.
    if (exhausted) more = true;
    return more ? { acks, deliveries, more } : { acks, deliveries };
  }

  subscribe(sessionId: SessionId, patterns: readonly PathPattern[]): Promise<void> {
    return settle(() => {
      const session = this.#sessions.get(sessionId);
      if (!session) throw noSession(sessionId);
      for (const pattern of patterns) parsePattern(pattern);
      const max = this.#ctx.limits.maxSubscriptions;
      const added = new Set(patterns.filter((p) => !session.patterns.has(p)));
      if (session.patterns.size + added.size > max) throw tooManySubscriptions(max);
      this.#subscribe(session, patterns);
    });
  }

  unsubscribe(sessionId: SessionId, patterns: readonly PathPattern[]): Promise<void> {
    return settle(() => {
      const session = this.#sessions.get(sessionId);
      if (!session) throw noSession(sessionId);
      for (const pattern of patterns) parsePattern(pattern);
      this.#unsubscribe(session, patterns);
    });
  }

  #subscribe(session: MemorySession, patterns: readonly PathPattern[]): void {
    for (const pattern of patterns) {
      if (session.patterns.has(pattern)) continue;
      session.patterns.add(pattern);
      this.#router.add(pattern, session);
    }
  }

  #unsubscribe(session: MemorySession, patterns: readonly PathPattern[]): void {
    for (const pattern of patterns) {
      if (session.patterns.delete(pattern)) this.#router.remove(pattern, session);
    }
  }

  subscriptions(sessionId: SessionId): Promise<PathPattern[]> {
    return Promise.resolve([...(this.#sessions.get(sessionId)?.patterns ?? [])]);
  }

  inspect(sessionId: SessionId): Promise<QueueSnapshot | undefined> {
    const session = this.#sessions.get(sessionId);
    if (!session) return Promise.resolve(undefined);
    return Promise.resolve({
      unsent: [...session.urgent, ...session.normal].map(snapshot),
      unacked: session.tail.map(snapshot),
      nextId: session.nextId,
      bytes: session.bytes,
    });
  }

  /** Whether one more message of `bytes` would take the session's queue past `fraction` of its bounds. */
  #over(session: MemorySession, bytes: number, fraction: number): boolean {
    const { limits } = this.#ctx;
    return (
      session.count + 1 > limits.maxQueueMessages * fraction ||
      session.bytes + bytes > limits.maxQueueBytes * fraction
    );
  }

  /**
   * Puts one message into one session's queue, applying the bounds (see Engine). `time`: the
   * caller's clock reading, taken once for a whole fan-out.
   */
  #admit(
    session: MemorySession,
    message: Outbound,
    onFull: 'reject' | 'close',
    time = this.#ctx.now(),
  ): EnqueueResult {
    const { limits, events } = this.#ctx;
    if (!message.reliable && this.#over(session, message.cost, limits.unreliableHighWater)) {
      this.#discard({ message, id: undefined, state: 'unsent', at: time, attempts: 0 }, time);
      return 'discarded';
    }
    if (message.reliable && this.#over(session, message.cost, 1)) {
      // Unreliable messages give way first (seed 001: "unreliable: OK to drop").
      for (const lane of [session.normal, session.urgent]) {
        for (const entry of lane.removeWhere((e) => !e.message.reliable)) {
          session.count--;
          session.bytes -= entry.message.cost;
          this.#discard(entry, time);
        }
      }
      if (this.#over(session, message.cost, 1)) {
        if (onFull === 'close') {
          this.#close(session, 'overflow');
          return 'closed';
        }
        return 'full';
      }
    }
    const entry = newEntry(message, time);
    (message.urgent ? session.urgent : session.normal).push(entry);
    session.count++;
    session.bytes += message.cost;
    message.onState?.('unsent', time, undefined);
    events.wake(session.id, message.urgent);
    if (
      events.pressure &&
      (session.count > limits.maxQueueMessages * limits.pressureHighWater ||
        session.bytes > limits.maxQueueBytes * limits.pressureHighWater)
    ) {
      events.pressure(session.id);
    }
    return 'queued';
  }

  #delivered(session: MemorySession, entry: Entry, time: number): void {
    session.count--;
    session.bytes -= entry.message.cost;
    this.#setState(entry, 'delivered', time);
    this.#ctx.counters.count('delivered');
    this.#ctx.counters.count('acks_in');
  }

  #discard(entry: Entry, time: number): void {
    this.#setState(entry, 'discarding', time);
    this.#setState(entry, 'dropped', time);
    this.#ctx.counters.count('discarded');
  }

  #setState(entry: Entry, state: MessageState, time: number): void {
    entry.state = state;
    entry.at = time;
    entry.message.onState?.(state, time, entry.id);
  }

  #close(session: MemorySession, reason: CloseReasonName): void {
    if (this.#sessions.get(session.id) !== session) return;
    const { counters, limits, events, now } = this.#ctx;
    const time = now();
    this.#sessions.delete(session.id);
    this.#bySeen.delete(session.id);
    this.#byAddress.delete(session.address);
    for (const pattern of session.patterns) this.#router.remove(pattern, session);
    // Nothing is lost silently: every message still owed is reported dropped.
    for (const entry of [...session.urgent.clear(), ...session.normal.clear(), ...session.tail]) {
      this.#setState(entry, 'dropped', time);
      counters.count('dropped');
    }
    session.tail = [];
    if (reason === 'overflow') counters.count('overflows');
    this.#tombstones.set(session.id, reason);
    if (this.#tombstones.size > limits.tombstones) {
      this.#tombstones.delete(this.#tombstones.keys().next().value as SessionId);
    }
    events.sessionClosed({ ...session.info(), status: 'closed' }, reason);
  }

  #sweep(): void {
    const { limits, now } = this.#ctx;
    const cutoff = now() - limits.inactivityTimeoutMs;
    for (const session of this.#bySeen.values()) {
      if (session.lastSeen > cutoff) break;
      this.#close(session, 'inactive');
    }
  }
}

/** Runs synchronous engine work behind the async interface: a throw becomes a rejection. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function tooManySubscriptions(max: number): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_TOO_MANY_SUBSCRIPTIONS',
    `a session may hold at most ${max} subscriptions`,
  );
}

function noSession(id: SessionId): SwitchboardError {
  return new SwitchboardError('SB_ERR_NO_SESSION', `no open session ${id}`);
}
