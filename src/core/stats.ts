/**
 * Counters and gauges for monitoring (seed 001's list where it applies). Plain numbers in one
 * object: cheap to bump on hot paths, exported as a snapshot and later as Prometheus metrics.
 * @module
 */
import type { CloseReasonName } from './close-reasons.js';
import type { EngineCounterName, EngineCounters } from '../engine/engine.js';
import type { ProtocolName } from './types.js';

export type CounterName =
  | EngineCounterName
  | 'messages_in'
  | 'messages_out'
  | 'acks_out'
  | 'requests'
  | 'requests_rejected'
  | 'published'
  | 'sent_direct'
  | 'sessions_opened'
  | 'sessions_closed'
  | 'connections_opened'
  | 'connections_closed'
  | 'superseded'
  | 'hold_timeouts'
  | 'stale_culled'
  /** Client messages refused because their session held its bound of pending acks (sent again later). */
  | 'acks_pending'
  /** The engine's store failed outside a request (e.g. the Redis connection was lost). */
  | 'engine_errors';

export interface StatsSnapshot {
  readonly counters: Readonly<Record<CounterName, number>>;
  readonly closeReasons: Readonly<Partial<Record<CloseReasonName, number>>>;
  readonly sessionsByProtocol: Readonly<Partial<Record<ProtocolName, number>>>;
  readonly liveConnectionsByProtocol: Readonly<Partial<Record<ProtocolName, number>>>;
  /** Client addresses tracked by the per-address limits, and refusals so far by limit. */
  readonly addressLimits: {
    readonly tracked: number;
    readonly refused: Readonly<Record<'sockets' | 'connections' | 'requests' | 'sessions' | 'held', number>>;
  };
}

const COUNTER_NAMES: readonly CounterName[] = [
  'messages_in',
  'messages_out',
  'acks_in',
  'acks_out',
  'delivered',
  'retransmits',
  'discarded',
  'dropped',
  'duplicates',
  'overflows',
  'requests',
  'requests_rejected',
  'published',
  'sent_direct',
  'sessions_opened',
  'sessions_closed',
  'connections_opened',
  'connections_closed',
  'superseded',
  'acks_pending',
  'hold_timeouts',
  'stale_culled',
  'engine_errors',
];

export class Stats implements EngineCounters {
  readonly counters: Record<CounterName, number> = Object.fromEntries(
    COUNTER_NAMES.map((n) => [n, 0]),
  ) as Record<CounterName, number>;
  readonly closeReasons: Partial<Record<CloseReasonName, number>> = {};

  count(name: CounterName, n = 1): void {
    this.counters[name] += n;
  }

  countClose(reason: CloseReasonName): void {
    this.closeReasons[reason] = (this.closeReasons[reason] ?? 0) + 1;
    this.counters.sessions_closed++;
  }
}
