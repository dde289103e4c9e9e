/**
 * Every limit and timer in one block, each finite, each with a reason (docs/configuration.md has
 * the table). Validated once at construction, as ws and undici do with their options.
 * @module
 */
import { getHeapStatistics } from 'node:v8';
import type { EngineLimits } from '../engine/engine.js';
import { SwitchboardError } from './errors.js';

export interface HubSettings extends EngineLimits {
  /** Largest serialized payload of one message, either direction. */
  readonly maxMessageBytes: number;
  /** Largest HTTP request body. */
  readonly maxBodyBytes: number;
  /** Messages one request may carry (seed 001: 1,000 per POST). */
  readonly maxMessagesPerRequest: number;
  /** Messages one write (one long-poll response, one frame batch) carries at most. */
  readonly maxBatchMessages: number;
  /** Bytes one write carries at most (seed 001: 100 KB per GET); one larger message still goes alone. */
  readonly maxBatchBytes: number;
  /** How long normal messages wait to be batched; urgent ones and acks-only flushes skip nothing. */
  readonly batchWindowMs: number;
  /** How long a long-poll request is held with nothing to send (below the LPIO client's 25 s). */
  readonly holdTimeoutMs: number;
  /** How often live connections mark their sessions as seen, in one batched engine call. */
  readonly touchIntervalMs: number;
  /** A connection with no I/O this long is culled as stale (seed 001: 5 min). */
  readonly staleAfterMs: number;
  /** How often stale connections are looked for (seed 001: 15 min). */
  readonly staleSweepMs: number;
  /** Interval of keep-alive (noop) writes on idle streaming connections (seed 001: 30 s). */
  readonly keepAliveMs: number;
  /**
   * A request body (or an upgrade) not complete this long after it started is answered 408 and
   * its socket closed. Held long polls are not affected: they are complete before they are held.
   */
  readonly bodyTimeoutMs: number;
  // Per client address (docs/security.md): 0 turns a limit off. Behind a proxy listed in
  // `trustProxy` the address is the forwarded one.
  /** TCP connections one peer address may have open (trusted proxies are exempt). */
  readonly maxSocketsPerAddress: number;
  /** Requests in progress (held long polls included) plus open WebSockets per client address. */
  readonly maxConnectionsPerAddress: number;
  /** Sustained HTTP requests (and upgrades) per second per client address. */
  readonly requestsPerSecondPerAddress: number;
  /** Requests one client address may make at once above the sustained rate. */
  readonly requestBurstPerAddress: number;
  /** Sustained new sessions per minute per client address. */
  readonly sessionsPerMinutePerAddress: number;
  /** Sessions one client address may open at once above the sustained rate. */
  readonly sessionBurstPerAddress: number;
  /** Sessions one client address may hold open at once (opened on this node, not yet closed). */
  readonly maxSessionsPerAddress: number;
  /** Client addresses whose limits are tracked at once; idle ones are forgotten first. */
  readonly maxTrackedAddresses: number;
  /**
   * New sessions are refused (503 `SB_ERR_OVERLOADED`) while the V8 heap in use plus the memory
   * beside it (Buffers) is above this many bytes, rather than the process dying when it reaches
   * V8's limit. 0 turns it off.
   */
  readonly memoryBudgetBytes: number;
}

/** Three quarters of what V8 may allocate before the process dies: room for a GC to catch up. */
const DEFAULT_MEMORY_BUDGET = Math.floor(getHeapStatistics().heap_size_limit * 0.75);

export const DEFAULT_SETTINGS: HubSettings = Object.freeze({
  maxQueueMessages: 1_000,
  maxQueueBytes: 1_048_576,
  maxUnacked: 1_000,
  unreliableHighWater: 0.5,
  pressureHighWater: 0.75,
  unreliableTtlMs: 5_000,
  dedupeWindow: 4_096,
  dedupeWindowBytes: 409_600,
  maxSessions: 100_000,
  maxSubscriptions: 100,
  inactivityTimeoutMs: 60_000,
  sweepIntervalMs: 5_000,
  tombstones: 100_000,
  maxMessageBytes: 65_536,
  maxBodyBytes: 1_048_576,
  maxMessagesPerRequest: 1_000,
  maxBatchMessages: 500,
  maxBatchBytes: 102_400,
  batchWindowMs: 10,
  holdTimeoutMs: 20_000,
  touchIntervalMs: 10_000,
  staleAfterMs: 300_000,
  staleSweepMs: 900_000,
  keepAliveMs: 30_000,
  bodyTimeoutMs: 10_000,
  maxSocketsPerAddress: 256,
  maxConnectionsPerAddress: 256,
  requestsPerSecondPerAddress: 200,
  requestBurstPerAddress: 400,
  sessionsPerMinutePerAddress: 300,
  sessionBurstPerAddress: 60,
  maxSessionsPerAddress: 1_000,
  maxTrackedAddresses: 100_000,
  memoryBudgetBytes: DEFAULT_MEMORY_BUDGET,
});

/** Merges `overrides` into the defaults; throws SB_ERR_CONFIG naming the field, the rule and the value. */
export function resolveSettings(overrides: Partial<HubSettings> = {}): HubSettings {
  const settings: Record<string, number> = { ...DEFAULT_SETTINGS };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(DEFAULT_SETTINGS, key)) {
      throw new SwitchboardError('SB_ERR_CONFIG', `unknown setting "${key}"`);
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new SwitchboardError(
        'SB_ERR_CONFIG',
        `setting "${key}" must be a finite number >= 0, got ${String(value)}`,
      );
    }
    settings[key] = value;
  }
  // Tombstones are sized with the sessions, so that a mass expiry of every session is remembered
  // and each returning client is told why (docs/errors.md).
  if (overrides.tombstones === undefined) settings.tombstones = settings.maxSessions as number;
  const s = settings as unknown as HubSettings;
  for (const key of ['unreliableHighWater', 'pressureHighWater'] as const) {
    if (s[key] > 1)
      throw new SwitchboardError('SB_ERR_CONFIG', `setting "${key}" must be at most 1, got ${s[key]}`);
  }
  if (s.maxMessageBytes > s.maxQueueBytes) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `setting "maxMessageBytes" (${s.maxMessageBytes}) must not exceed "maxQueueBytes" (${s.maxQueueBytes})`,
    );
  }
  for (const key of [
    'sweepIntervalMs',
    'touchIntervalMs',
    'staleSweepMs',
    'maxBatchMessages',
    'maxQueueMessages',
    'maxTrackedAddresses',
  ] as const) {
    if (s[key] < 1)
      throw new SwitchboardError('SB_ERR_CONFIG', `setting "${key}" must be at least 1, got ${s[key]}`);
  }
  return Object.freeze(s);
}
