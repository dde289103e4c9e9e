/**
 * Every limit and timer in one block, each finite, each with a reason (docs/configuration.md has
 * the table). Validated once at construction, as ws and undici do with their options.
 * @module
 */
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
}

export const DEFAULT_SETTINGS: HubSettings = Object.freeze({
  maxQueueMessages: 1_000,
  maxQueueBytes: 1_048_576,
  maxUnacked: 1_000,
  unreliableHighWater: 0.5,
  pressureHighWater: 0.75,
  unreliableTtlMs: 5_000,
  dedupeWindow: 4_096,
  maxSessions: 100_000,
  maxSubscriptions: 100,
  inactivityTimeoutMs: 60_000,
  sweepIntervalMs: 5_000,
  tombstones: 10_000,
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
  ] as const) {
    if (s[key] < 1)
      throw new SwitchboardError('SB_ERR_CONFIG', `setting "${key}" must be at least 1, got ${s[key]}`);
  }
  return Object.freeze(s);
}
