/**
 * What one client address may make a node hold: sockets, connections (requests in progress and
 * open streams), requests per second, new sessions per minute and sessions held at once. Rates
 * are token buckets (a burst, then a sustained rate); a refusal says when to come back
 * (`Retry-After`).
 *
 * Memory is bounded too: at most `maxTrackedAddresses` entries. An entry holding nothing and with
 * full buckets is the same as no entry, so those are forgotten first; when every entry is busy,
 * new addresses share one overflow entry (they are limited together rather than not at all).
 * Limits are per node: behind a round-robin balancer a cluster of N nodes admits N times as much.
 * @module
 */
import { SwitchboardError } from './errors.js';
import { limitKey } from './peer.js';
import type { HubSettings } from './settings.js';

/** The settings these limits read (docs/configuration.md). */
export type AddressLimitSettings = Pick<
  HubSettings,
  | 'maxSocketsPerAddress'
  | 'maxConnectionsPerAddress'
  | 'requestsPerSecondPerAddress'
  | 'requestBurstPerAddress'
  | 'sessionsPerMinutePerAddress'
  | 'sessionBurstPerAddress'
  | 'maxSessionsPerAddress'
  | 'maxTrackedAddresses'
>;

interface Bucket {
  tokens: number;
  at: number;
}

interface AddressState {
  sockets: number;
  connections: number;
  requests: Bucket;
  sessions: Bucket;
  /** Sessions this node opened for the address and has not seen close, oldest first. */
  held: Set<string> | undefined;
}

/** How often, at most, a full table looks for idle entries to forget (each look is bounded too). */
const FORGET_INTERVAL_MS = 1_000;

const OVERFLOW = '*';

/** Releases what `admit` took; calling it twice releases once. */
export type Release = () => void;

export class AddressLimiter {
  readonly #settings: AddressLimitSettings;
  readonly #now: () => number;
  readonly #states = new Map<string, AddressState>();
  /** The address state each held session counts against, to release it when the session closes. */
  readonly #holders = new Map<string, AddressState>();
  #lastForget = -Infinity;
  /** Refusals so far, by kind, for stats. */
  readonly refused = { sockets: 0, connections: 0, requests: 0, sessions: 0, held: 0 };

  constructor(settings: AddressLimitSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  /** Addresses tracked now. */
  get size(): number {
    return this.#states.size;
  }

  /**
   * A new TCP connection from a peer: the function to call when it closes, or undefined to refuse
   * it (the caller destroys the socket). The release is bound to the entry counted, which is the
   * shared overflow entry when the table was full.
   */
  socketOpened(address: string): Release | undefined {
    const max = this.#settings.maxSocketsPerAddress;
    if (max === 0) return noop;
    const state = this.#state(address);
    if (state.sockets >= max) {
      this.refused.sockets++;
      return undefined;
    }
    state.sockets++;
    return once(() => state.sockets--);
  }

  /**
   * An HTTP request or upgrade: takes a request token and a connection slot, released by the
   * returned function when the request (or the stream it became) ends. Throws SB_ERR_RATE_LIMITED
   * (429, with `retryAfter`) and takes nothing when the address is over a limit.
   */
  admit(address: string): Release {
    const { maxConnectionsPerAddress: maxConnections, requestsPerSecondPerAddress: rate } = this.#settings;
    if (maxConnections === 0 && rate === 0) return noop;
    const state = this.#state(address);
    if (maxConnections > 0 && state.connections >= maxConnections) {
      this.refused.connections++;
      throw limited(
        `this address holds its maximum of ${maxConnections} connections (requests in progress and streams)`,
        1,
      );
    }
    if (rate > 0) {
      const wait = this.#take(state.requests, rate, this.#settings.requestBurstPerAddress);
      if (wait > 0) {
        this.refused.requests++;
        throw limited(`this address is over its limit of ${rate} requests per second`, wait);
      }
    }
    if (maxConnections === 0) return noop;
    state.connections++;
    return once(() => state.connections--);
  }

  /**
   * A new session for a client: throws SB_ERR_RATE_LIMITED (429) when the address is over its
   * rate. Returns whether the address may hold one more session (`maxSessionsPerAddress`): when
   * not, the caller may release sessions that are gone (`heldBy`, `sessionClosed`) and ask again
   * with `hasSessionRoom`.
   */
  openSession(address: string | undefined): boolean {
    if (address === undefined) return true;
    const perMinute = this.#settings.sessionsPerMinutePerAddress;
    const state = this.#state(address);
    if (perMinute > 0) {
      const wait = this.#take(state.sessions, perMinute / 60, this.#settings.sessionBurstPerAddress);
      if (wait > 0) {
        this.refused.sessions++;
        throw limited(`this address is over its limit of ${perMinute} new sessions per minute`, wait);
      }
    }
    return this.hasSessionRoom(address);
  }

  hasSessionRoom(address: string): boolean {
    const max = this.#settings.maxSessionsPerAddress;
    return max === 0 || (this.#states.get(this.#key(address))?.held?.size ?? 0) < max;
  }

  /** The refusal when an address holds its maximum of sessions. */
  heldRefusal(): SwitchboardError {
    this.refused.held++;
    return limited(
      `this address holds its maximum of ${this.#settings.maxSessionsPerAddress} sessions; close some or let them expire`,
      5,
    );
  }

  /** The session opened for `address` counts against it until `sessionClosed`. */
  sessionOpened(address: string | undefined, id: string): void {
    if (address === undefined || this.#settings.maxSessionsPerAddress === 0) return;
    const state = this.#state(address);
    (state.held ??= new Set()).add(id);
    this.#holders.set(id, state);
  }

  sessionClosed(id: string): void {
    const state = this.#holders.get(id);
    if (!state) return;
    this.#holders.delete(id);
    state.held?.delete(id);
  }

  /** The oldest `n` sessions counted against `address`, to check whether they still exist. */
  heldBy(address: string, n: number): string[] {
    const held = this.#states.get(this.#key(address))?.held;
    const ids: string[] = [];
    if (held) for (const id of held) if (ids.push(id) >= n) break;
    return ids;
  }

  /** Forgets every held session (the engine lost its data: none of them exists any more). */
  forgetSessions(): void {
    for (const state of this.#holders.values()) state.held = undefined;
    this.#holders.clear();
  }

  /**
   * Takes one token from a bucket of `burst` tokens refilled at `perSecond`. Returns 0 when taken,
   * else the whole seconds until one is there (at least 1).
   */
  #take(bucket: Bucket, perSecond: number, burst: number): number {
    const now = this.#now();
    const capacity = Math.max(1, burst);
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
  }

  #key(address: string): string {
    return limitKey(address);
  }

  #state(address: string): AddressState {
    const key = this.#key(address);
    const existing = this.#states.get(key);
    if (existing) return existing;
    if (this.#states.size >= this.#settings.maxTrackedAddresses) this.#forgetIdle();
    if (this.#states.size >= this.#settings.maxTrackedAddresses) {
      // Every tracked address holds something: newcomers share one entry.
      const overflow = this.#states.get(OVERFLOW);
      if (overflow) return overflow;
    }
    const now = this.#now();
    const state: AddressState = {
      sockets: 0,
      connections: 0,
      requests: { tokens: Math.max(1, this.#settings.requestBurstPerAddress), at: now },
      sessions: { tokens: Math.max(1, this.#settings.sessionBurstPerAddress), at: now },
      held: undefined,
    };
    this.#states.set(this.#states.size >= this.#settings.maxTrackedAddresses ? OVERFLOW : key, state);
    return state;
  }

  /**
   * Forgets entries that hold nothing and whose buckets have refilled: keeping them changes no
   * answer. Oldest first (Map order is insertion order), a tenth of the table at most, and at most
   * once a second: a full table of busy addresses costs a newcomer nothing but the overflow entry.
   */
  #forgetIdle(): void {
    const now = this.#now();
    if (now - this.#lastForget < FORGET_INTERVAL_MS) return;
    this.#lastForget = now;
    const s = this.#settings;
    const full = (bucket: Bucket, perSecond: number, burst: number) =>
      perSecond === 0 || bucket.tokens + ((now - bucket.at) / 1000) * perSecond >= Math.max(1, burst);
    const budget = Math.max(1, Math.ceil(this.#states.size / 10));
    const busy: Array<[string, AddressState]> = [];
    let looked = 0;
    for (const [key, state] of this.#states) {
      if (looked++ >= budget) break;
      const idle =
        state.sockets === 0 &&
        state.connections === 0 &&
        (state.held?.size ?? 0) === 0 &&
        full(state.requests, s.requestsPerSecondPerAddress, s.requestBurstPerAddress) &&
        full(state.sessions, s.sessionsPerMinutePerAddress / 60, s.sessionBurstPerAddress);
      if (!idle) busy.push([key, state]);
      this.#states.delete(key);
    }
    // Busy entries go to the back, so the next pass looks at others.
    for (const [key, state] of busy) this.#states.set(key, state);
  }
}

function noop(): void {}

/** `release` run once, however often the result is called. */
function once(release: () => void): Release {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}

function limited(message: string, retryAfter: number): SwitchboardError {
  return new SwitchboardError('SB_ERR_RATE_LIMITED', message, { retryAfter });
}
