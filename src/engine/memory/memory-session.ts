/**
 * One session of the memory engine: its queues (urgent and normal lanes, the unacked tail), what
 * it remembers of its client's ids (the dedupe window, the pending acks), its patterns and its
 * claim, and the pool of queue entries every session draws from. The engine applies the rules;
 * this file holds the state and the small operations on it.
 * @module
 */
import { Fifo } from '../../core/fifo.js';
import { idCost } from '../../core/memory-cost.js';
import type {
  Address,
  ClientMessageId,
  MessageId,
  MessageSnapshot,
  MessageState,
  Outbound,
  PathPattern,
  ProtocolName,
  SessionId,
  SessionInfo,
} from '../../core/types.js';
import { pendingAckBounds, type Claim, type EngineLimits, type SessionInit } from '../engine.js';

/** Never pushed to (receive() swaps in a fresh array first); frozen so a slip would throw. */
export const NO_ACKS: ClientMessageId[] = Object.freeze([]) as unknown as ClientMessageId[];

export interface Entry {
  message: Outbound;
  id: MessageId | undefined;
  state: MessageState;
  at: number;
  attempts: number;
}

/**
 * Acked entries are reused for the next admits. Every entry lives from its publish until the
 * client acks it (about a second), long enough to survive a scavenge and be promoted: allocating
 * one per delivery kept the old generation growing by a few MB a second in a 1,000-receiver
 * fan-out, and the collections that followed were the fan-out's worst latencies.
 */
const ENTRY_POOL_MAX = 65_536;
const entryPool: Entry[] = [];
/** What a pooled entry points at instead of the message it carried, so that message can go. */
const RELEASED: Outbound = Object.freeze({
  path: undefined,
  channel: undefined,
  sender: undefined,
  json: 'null',
  bytes: 0,
  cost: 0,
  urgent: false,
  reliable: false,
  createdAt: 0,
});

export function newEntry(message: Outbound, time: number): Entry {
  const entry = entryPool.pop();
  if (entry === undefined) return { message, id: undefined, state: 'unsent', at: time, attempts: 0 };
  entry.message = message;
  entry.id = undefined;
  entry.state = 'unsent';
  entry.at = time;
  entry.attempts = 0;
  return entry;
}

/** Called only once nothing refers to the entry any more (it left its lane and the tail). */
export function releaseEntry(entry: Entry): void {
  if (entryPool.length >= ENTRY_POOL_MAX) return;
  entry.message = RELEASED;
  entryPool.push(entry);
}

export class MemorySession {
  readonly id: SessionId;
  readonly address: Address;
  readonly protocol: ProtocolName;
  readonly user: string | undefined;
  readonly createdAt: number;
  lastSeen: number;
  nextId: MessageId = 1;
  readonly urgent = new Fifo<Entry>();
  readonly normal = new Fifo<Entry>();
  /** Sent reliable messages in id order; acked ones are removed. */
  tail: Entry[] = [];
  /** Unsent plus unacked messages, and their bytes: what the bounds apply to. */
  count = 0;
  bytes = 0;
  /** Shared and empty until the client sends something: most sessions mostly receive. */
  pendingAcks: ClientMessageId[] = NO_ACKS;
  /** What the pending acks hold (`idCost` each). */
  pendingAckBytes = 0;
  /** The dedupe window, made on the first message the client sends. */
  dedupe: DedupeWindow | undefined;
  readonly patterns = new Set<PathPattern>();
  /** The last publish that reached this session, so one publish matched by two patterns queues once. */
  publishStamp = 0;
  /** The connection that last claimed the session (see TakeRequest.claim), and its client's order. */
  owner: string | undefined;
  claimedBy: { instance: string; seq: number } | undefined;

  /**
   * See Claim: a request older than the last claim of the same client instance does not claim.
   * Returns false for such a stale request.
   */
  claim({ owner, user, instance, seq }: Claim): boolean {
    if (this.user !== undefined && this.user !== user) return true;
    if (instance !== undefined && seq !== undefined) {
      if (this.claimedBy?.instance === instance && this.claimedBy.seq >= seq) return false;
      this.claimedBy = { instance, seq };
    } else {
      this.claimedBy = undefined;
    }
    this.owner = owner;
    return true;
  }

  constructor(init: SessionInit, now: number) {
    this.id = init.id;
    this.address = init.address;
    this.protocol = init.protocol;
    this.user = init.user;
    this.createdAt = now;
    this.lastSeen = now;
  }

  info(): SessionInfo {
    return {
      id: this.id,
      address: this.address,
      protocol: this.protocol,
      user: this.user,
      status: 'open',
      createdAt: this.createdAt,
      lastSeen: this.lastSeen,
    };
  }
}

/**
 * Recent client ids, the most recent last (a Set keeps insertion order), bounded by count and by
 * what they hold (`idCost` each).
 */
export interface DedupeWindow {
  readonly seen: Set<ClientMessageId>;
  bytes: number;
}

/** Remembers `id` as the most recent id (new, or acked again); the oldest go past the bounds. */
export function remember(window: DedupeWindow, id: ClientMessageId, limits: EngineLimits): void {
  if (window.seen.delete(id)) {
    window.seen.add(id);
    return;
  }
  window.seen.add(id);
  window.bytes += idCost(id);
  while (window.seen.size > limits.dedupeWindow || window.bytes > limits.dedupeWindowBytes) {
    const oldest = window.seen.values().next().value as ClientMessageId;
    window.seen.delete(oldest);
    window.bytes -= idCost(oldest);
  }
}

/** Whether the session holds no room for one more pending ack (`pendingAckBounds`); an empty list always has room. */
export function acksFull(session: MemorySession, id: ClientMessageId, limits: EngineLimits): boolean {
  const bound = pendingAckBounds(limits);
  const held = session.pendingAcks.length;
  return held > 0 && (held >= bound.count || session.pendingAckBytes + idCost(id) > bound.bytes);
}

/** Takes the oldest pending acks, at most `pendingAckBounds` of them (at least one); `more` when some are left. */
export function takeAcks(
  session: MemorySession,
  limits: EngineLimits,
): { acks: ClientMessageId[]; more: boolean } {
  const acks = session.pendingAcks;
  const bound = pendingAckBounds(limits);
  if (acks.length <= bound.count && session.pendingAckBytes <= bound.bytes) {
    if (acks.length > 0) {
      session.pendingAcks = NO_ACKS;
      session.pendingAckBytes = 0;
    }
    return { acks, more: false };
  }
  let n = 0;
  let bytes = 0;
  while (
    n < acks.length &&
    n < bound.count &&
    (n === 0 || bytes + idCost(acks[n] as string) <= bound.bytes)
  ) {
    bytes += idCost(acks[n] as string);
    n++;
  }
  session.pendingAcks = acks.slice(n);
  session.pendingAckBytes -= bytes;
  return { acks: acks.slice(0, n), more: true };
}

/** Binary search: the tail is sorted by id. */
export function findById(tail: readonly Entry[], id: MessageId): Entry | undefined {
  let lo = 0;
  let hi = tail.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const entry = tail[mid] as Entry;
    const entryId = entry.id as MessageId;
    if (entryId === id) return entry;
    if (entryId < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

export function snapshot(entry: Entry): MessageSnapshot {
  return {
    id: entry.id,
    state: entry.state,
    at: entry.at,
    attempts: entry.attempts,
    path: entry.message.path,
    urgent: entry.message.urgent,
    reliable: entry.message.reliable,
  };
}
