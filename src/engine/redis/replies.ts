/**
 * Reading what the Redis engine's script answers (engine.lua) and what Redis fails with.
 * @module
 */
import type { CloseReasonName } from '../../core/close-reasons.js';
import { ERROR_CODES, SwitchboardError, isSwitchboardError, type ErrorCode } from '../../core/errors.js';
import type {
  Batch,
  Delivery,
  MessageSnapshot,
  Outbound,
  ProtocolName,
  QueueSnapshot,
  SessionInfo,
} from '../../core/types.js';

export type Reply = string | number | null | Reply[];

/** Decodes a message body (MessageCache.decode). */
type Decode = (mid: string, body: string | undefined) => Outbound;

export const EMPTY_BATCH: Batch = Object.freeze({ acks: [], deliveries: [] });
const SUPERSEDED: Batch = Object.freeze({ acks: [], deliveries: [], superseded: true });

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

/** A flat "mid, body, mid, body…" list as a map. */
function bodyMap(flat: readonly Reply[]): Map<string, string> {
  const bodies = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) bodies.set(String(flat[i]), String(flat[i + 1]));
  return bodies;
}

/** The batches of a `take` call, in request order; every body comes once per call. */
export function batches(
  rawBatches: readonly Reply[][],
  rawBodies: readonly Reply[],
  decode: Decode,
): Batch[] {
  const bodies = bodyMap(rawBodies);
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
        message: decode(mid, bodies.get(mid)),
        retry: flat[i + 2] === 1,
      });
    }
    if (acks.length === 0 && deliveries.length === 0) return EMPTY_BATCH;
    return raw[3] === 1 ? { acks, deliveries, more: true } : { acks, deliveries };
  });
}

/** An `inspect` answer: next id, bytes, unsent entries, the tail with scores, bodies. */
export function queueSnapshot(reply: Reply[], decode: Decode): QueueSnapshot {
  const [nextId, bytes, unsent, tail, rawBodies] = reply as [string, string, string[], string[], string[]];
  const bodies = bodyMap(rawBodies);
  const snapshot = (mid: string, fields: Omit<MessageSnapshot, 'path' | 'urgent' | 'reliable'>) => {
    const message = decode(mid, bodies.get(mid));
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

export function sessionInfo(reply: Reply[], at: number): SessionInfo {
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

export function pairs(flat: Reply[]): Array<[string, Reply]> {
  const out: Array<[string, Reply]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1] ?? null]);
  return out;
}

export function list<T>(value: T[] | undefined): readonly T[] {
  return Array.isArray(value) ? value : [];
}

/** Script errors carry a stable code first ("SB_ERR_… message"); anything else means Redis is unreachable. */
export function fromRedis(error: unknown): SwitchboardError {
  if (isSwitchboardError(error)) return error;
  const text = error instanceof Error ? error.message : String(error);
  const match = /^(SB_ERR_[A-Z_]+) (.*)$/s.exec(text);
  if (match && Object.hasOwn(ERROR_CODES, match[1] as string)) {
    return new SwitchboardError(match[1] as ErrorCode, match[2] as string);
  }
  return unavailable(error);
}

export function unavailable(error: unknown): SwitchboardError {
  if (isSwitchboardError(error)) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new SwitchboardError('SB_ERR_ENGINE_UNAVAILABLE', `the Redis engine is unavailable: ${text}`, {
    cause: error,
  });
}
