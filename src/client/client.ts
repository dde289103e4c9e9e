/**
 * The Switchboard client: one API over pluggable transports (WebSocket and LPIO; `transports`
 * tries them in order, skips those that cannot run here, and remembers a fallback for a while:
 * ./fallback.ts). The client owns what every transport shares: outgoing messages until they are
 * acked (./outbox.ts), inbound duplicate detection, subscriptions (re-sent on a new session) and
 * the connection state machine. A transport owns the wire: framing, batching, holding, retries
 * and backoff.
 *
 * Runs in browsers and Node alike: fetch, AbortController, WebSocket and timers only.
 * @module
 */
import type { ClientEvents, ClientOptions, ClientState, OutgoingSnapshot, SendOptions } from './api.js';
import type { WebSocketConstructor } from './connection.js';
import { Emitter, type Handler } from './emitter.js';
import { ACKS_PENDING, CLIENT_ERROR_CODES, ClientError, SESSION_CLOSED } from './errors.js';
import {
  PROBE_FIRST_MS,
  PROBE_MAX_MS,
  forgetFallback,
  probeWebSocket,
  recallFallback,
  rememberFallback,
} from './fallback.js';
import { utf8Length } from './limits.js';
import { DEFAULT_OUTBOX, Outbox, sessionLost, type OutgoingRecord } from './outbox.js';
import type {
  CloseInfo,
  OutgoingFrame,
  Transport,
  TransportHost,
  TransportName,
  TransportSettings,
} from './transport.js';
import { LpioTransport } from './transports/lpio.js';
import { WebSocketTransport, toWebSocketUrl } from './transports/websocket.js';

const TRANSPORT_NAMES: readonly TransportName[] = ['websocket', 'lpio'];
/** Where each transport is served, relative to the server's URL (with `transports`). */
export const DEFAULT_PATHS: Readonly<Record<TransportName, string>> = Object.freeze({
  websocket: '/ws',
  lpio: '/lpio',
});
const META_SUBSCRIBE = '/meta/subscribe';
const META_UNSUBSCRIBE = '/meta/unsubscribe';
/** How long a background probe of the preferred transport may take to open. */
const PROBE_TIMEOUT_MS = 10_000;
/** The ends of a send that say nothing against its path: the client keeps such a subscription. */
const NOT_REFUSALS: ReadonlySet<string> = new Set([
  CLIENT_ERROR_CODES.DELIVERY_TIMEOUT,
  CLIENT_ERROR_CODES.DROPPED,
  CLIENT_ERROR_CODES.SESSION_LOST,
]);

export class Client {
  readonly #emitter: Emitter<ClientEvents>;
  #transport: Transport;
  /** The transports that can run here, in the order given. */
  readonly #order: TransportName[];
  /** Index of the current transport in #order. */
  #current = 0;
  /** The server URL, where a fallback is remembered (with `transports` only). */
  readonly #rememberKey: string | undefined;
  readonly #makeTransport: (index: number) => Transport;
  readonly #endpoint: (name: TransportName) => string;
  readonly #WebSocket: WebSocketConstructor | undefined;
  readonly #probe: { readonly min: number; readonly max: number } | false;
  #probeDelay = 0;
  #probeTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #outbox: Outbox;
  readonly #auth: ClientOptions['auth'];
  readonly #prefix = randomPrefix();
  #counter = 0;
  #id: string | undefined;
  #address: string | undefined;
  #state: ClientState = 'disconnected';
  /** Highest inbound id delivered in this session (seed 001: drop duplicates). */
  #watermark = 0;
  /** Why the server ended our last session, until the session replacing it is announced. */
  #previousClose: CloseInfo | undefined;
  /** A 'session' event went out since the client last became connected. */
  #announced = false;
  readonly #patterns = new Set<string>();
  /** Patterns whose subscribe is still on its way: they reach any new session by themselves. */
  readonly #subscribing = new Map<string, number>();

  constructor(options: ClientOptions) {
    if (typeof options.url !== 'string' || options.url === '') {
      throw new ClientError('SB_ERR_CONFIG', `url must be a non-empty string, got ${String(options.url)}`);
    }
    // Checked as unknown: plain-JavaScript callers pass anything.
    const given: unknown = options.transports ?? [options.transport ?? 'lpio'];
    if (
      !Array.isArray(given) ||
      given.length === 0 ||
      given.some((t) => !TRANSPORT_NAMES.includes(t as TransportName))
    ) {
      throw new ClientError(
        'SB_ERR_CONFIG',
        `transports must name some of ${TRANSPORT_NAMES.join(', ')}, got ${JSON.stringify(given)}`,
      );
    }
    if (options.transports !== undefined && options.transport !== undefined) {
      throw new ClientError('SB_ERR_CONFIG', 'give transport or transports, not both');
    }
    this.#WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    const missing = (name: TransportName) => cannotRun(name, this.#WebSocket);
    this.#order = (given as TransportName[]).filter((name) => missing(name) === undefined);
    if (this.#order.length === 0) {
      const why = (given as TransportName[]).map((name) => `${name} needs ${missing(name)}`);
      throw new ClientError('SB_ERR_CONFIG', `no transport can run here: ${why.join('; ')}`);
    }
    this.#rememberKey = options.transports && this.#order.length > 1 ? options.url : undefined;
    const remembered =
      this.#rememberKey === undefined ? undefined : recallFallback(this.#rememberKey, this.#order);
    if (remembered !== undefined) this.#current = this.#order.indexOf(remembered);
    this.#outbox = new Outbox(
      {
        ackTimeout: positive('ackTimeout', options.ackTimeout, DEFAULT_OUTBOX.ackTimeout),
        deliveryTimeout: positive('deliveryTimeout', options.deliveryTimeout, DEFAULT_OUTBOX.deliveryTimeout),
        maxPending: positive('maxPending', options.maxPending, DEFAULT_OUTBOX.maxPending),
        maxPendingBytes: positive('maxPendingBytes', options.maxPendingBytes, DEFAULT_OUTBOX.maxPendingBytes),
      },
      {
        changed: (record) =>
          this.#emitter.emit('messageState', { id: record.id, state: record.state, at: record.at }),
        givenUp: (id) => this.#transport.cancel(id),
      },
    );
    if (options.probe === false) this.#probe = false;
    else {
      const min = positive('probe.min', options.probe?.min, PROBE_FIRST_MS);
      this.#probe = { min, max: Math.max(min, positive('probe.max', options.probe?.max, PROBE_MAX_MS)) };
    }
    const settings: TransportSettings = {
      url: options.url,
      responseTimeout: positive('responseTimeout', options.responseTimeout, 25_000),
      batchWindow: positive('batchWindow', options.batchWindow, 20, true),
      backoff: options.backoff ?? {},
    };
    this.#endpoint = (name) =>
      options.transports ? joinUrl(options.url, options.paths?.[name] ?? DEFAULT_PATHS[name]) : options.url;
    this.#makeTransport = (index) => {
      const name = this.#order[index] as TransportName;
      return name === 'websocket'
        ? new WebSocketTransport(
            {
              ...settings,
              url: this.#endpoint(name),
              WebSocket: this.#WebSocket,
              rotate: options.rotate,
              // The last transport in the list keeps trying rather than give up.
              blockedAfter: index === this.#order.length - 1 ? Infinity : 2,
            },
            this.#host(),
          )
        : new LpioTransport({ ...settings, url: this.#endpoint(name) }, this.#host());
    };
    if (options.id !== undefined && (typeof options.id !== 'string' || options.id === '')) {
      throw new ClientError('SB_ERR_CONFIG', `id must be a non-empty string, got ${String(options.id)}`);
    }
    this.#id = options.id;
    this.#auth = options.auth;
    this.#emitter = new Emitter<ClientEvents>((error, event) => {
      // An 'error' handler that throws has nowhere left to report to.
      if (event === 'error') return;
      this.#emitter.emit(
        'error',
        new ClientError(CLIENT_ERROR_CODES.HANDLER, `a '${String(event)}' handler threw`, { cause: error }),
      );
    });
    this.#transport = this.#makeTransport(this.#current);
  }

  /** The transport in use now. */
  get transport(): TransportName {
    return this.#transport.name;
  }

  get id(): string | undefined {
    return this.#id;
  }

  get address(): string | undefined {
    return this.#address;
  }

  get state(): ClientState {
    return this.#state;
  }

  on<E extends keyof ClientEvents>(event: E, handler: Handler<ClientEvents[E]>): this {
    this.#emitter.on(event, handler);
    return this;
  }

  off<E extends keyof ClientEvents>(event: E, handler: Handler<ClientEvents[E]>): this {
    this.#emitter.off(event, handler);
    return this;
  }

  connect(): void {
    if (this.#state !== 'disconnected') return;
    this.#setState('connecting');
    this.#emitter.emit('transport', this.#transport.name);
    this.#transport.start();
    this.#scheduleProbe();
  }

  /** Stops; pending sends reject with SB_ERR_DROPPED. The id is kept: connect() resumes the session. */
  disconnect(): void {
    if (this.#state === 'disconnected') return;
    this.#stop(new ClientError(CLIENT_ERROR_CODES.DROPPED, 'the client disconnected'), 'client disconnect');
  }

  /**
   * Sends a message; resolves when the server acks it. Offline, it waits (`unsent`); without an
   * ack it goes again with every reconnect (`retrying`) until `deliveryTimeout`. Rejects at once
   * when the outbox is full (SB_ERR_SEND_BUFFER_FULL) or the message is bad.
   */
  send(data: unknown, options: SendOptions = {}): Promise<void> {
    if (data === undefined) {
      return Promise.reject(new ClientError('SB_ERR_BAD_MESSAGE', 'data must not be undefined'));
    }
    if (options.path !== undefined && options.to !== undefined) {
      return Promise.reject(new ClientError('SB_ERR_BAD_MESSAGE', 'give path or to, not both'));
    }
    if (options.path !== undefined && !options.path.startsWith('/')) {
      return Promise.reject(
        new ClientError('SB_ERR_BAD_PATH', `path must start with "/", got ${JSON.stringify(options.path)}`),
      );
    }
    if (options.to !== undefined && (options.to === '' || options.to.startsWith('/'))) {
      return Promise.reject(
        new ClientError('SB_ERR_BAD_MESSAGE', `to must be an address, got ${JSON.stringify(options.to)}`),
      );
    }
    let json: string | undefined;
    try {
      json = JSON.stringify(data);
    } catch (error) {
      return Promise.reject(
        new ClientError('SB_ERR_BAD_MESSAGE', 'data cannot be serialized to JSON', { cause: error }),
      );
    }
    if (json === undefined)
      return Promise.reject(new ClientError('SB_ERR_BAD_MESSAGE', 'data has no JSON form'));
    const max = this.#transport.limits.messageBytes;
    const bytes = utf8Length(json);
    if (bytes > max) {
      return Promise.reject(
        new ClientError('SB_ERR_PAYLOAD_TOO_LARGE', `the message is over the server's limit of ${max} bytes`),
      );
    }
    return this.#send(data, options, false, bytes);
  }

  /** Subscribes to a path or pattern (`/chat/*`, `/chat/**`); kept across new sessions. */
  subscribe(pattern: string): Promise<void> {
    this.#patterns.add(pattern);
    this.#subscribing.set(pattern, (this.#subscribing.get(pattern) ?? 0) + 1);
    const done = () => {
      const n = (this.#subscribing.get(pattern) ?? 1) - 1;
      if (n === 0) this.#subscribing.delete(pattern);
      else this.#subscribing.set(pattern, n);
    };
    return this.#send(pattern, { path: META_SUBSCRIBE }, true).then(done, (error: ClientError) => {
      done();
      // Refused by the server (bad pattern, not allowed): do not re-subscribe to it later.
      if (!NOT_REFUSALS.has(error.code)) this.#patterns.delete(pattern);
      throw error;
    });
  }

  unsubscribe(pattern: string): Promise<void> {
    this.#patterns.delete(pattern);
    return this.#send(pattern, { path: META_UNSUBSCRIBE }, true);
  }

  /** Outgoing messages with their states: every unfinished one and the last finished ones. */
  messages(): OutgoingSnapshot[] {
    const list: OutgoingSnapshot[] = [];
    for (const m of this.#outbox.records())
      list.push({ id: m.id, state: m.state, at: m.at, attempts: m.attempts });
    return list;
  }

  // ---------------------------------------------------------------- internals

  #send(data: unknown, options: SendOptions, meta: boolean, bytes = 0): Promise<void> {
    const id = `${this.#prefix}-${++this.#counter}`;
    const channel = options.path ?? options.to;
    const frame: OutgoingFrame = {
      id,
      data,
      ...(channel !== undefined && { channel }),
      ...(options.urgent === true && { urgent: true }),
      ...(options.reliable === false && { reliable: false }),
    };
    const settled = this.#outbox.add(frame, meta, bytes);
    if (this.#outbox.live(id)) this.#transport.push(frame);
    return settled;
  }

  #setState(state: ClientState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#emitter.emit('state', state);
  }

  /** Leaves 'connected' without stopping (the transport keeps trying). */
  #lost(reason: string): void {
    if (this.#state !== 'connected') return;
    this.#announced = false;
    this.#setState('connecting');
    this.#emitter.emit('disconnected', reason);
  }

  #stop(error: ClientError, reason: string): void {
    this.#transport.stop();
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#probeDelay = 0;
    const wasConnected = this.#state === 'connected';
    this.#announced = false;
    for (const id of this.#outbox.dropAll(error)) this.#transport.cancel(id);
    this.#setState('disconnected');
    if (wasConnected) this.#emitter.emit('disconnected', reason);
  }

  /**
   * A new session knows none of our patterns: each goes again as its own subscribe, so a server
   * that refuses one (over its `maxSubscriptions`, or not allowed) refuses that one alone.
   */
  #resubscribe(): void {
    for (const pattern of this.#patterns) {
      if (this.#subscribing.has(pattern)) continue;
      this.#send(pattern, { path: META_SUBSCRIBE }, true).catch((error: ClientError) => {
        if (error.code === CLIENT_ERROR_CODES.DROPPED) return; // the client stopped
        // No promise of the application's carries this one: the error event does.
        this.#emitter.emit('error', error);
        // Refused by the server (past its limit, not allowed): no longer one of ours.
        if (!NOT_REFUSALS.has(error.code)) this.#patterns.delete(pattern);
      });
    }
  }

  /**
   * A new session replaced the one our sent messages went to. Those may or may not have been
   * processed, and the new session would not know them as repeats: they are not sent again, and
   * are dropped (SB_ERR_SESSION_LOST) unless the answer at hand acks them (an LPIO request that
   * opened the new session carried them; its acks are handled in the same turn).
   */
  #orphanSent(): void {
    for (const id of this.#outbox.orphanSent()) this.#transport.cancel(id);
    queueMicrotask(() => this.#outbox.dropOrphans());
  }

  #host(): TransportHost {
    return {
      clientId: () => this.#id,
      address: () => this.#address,
      described: (address) => {
        this.#address = address;
      },
      auth: () => {
        const auth = this.#auth;
        return (typeof auth === 'function' ? auth() : auth) ?? {};
      },
      session: (set) => {
        const newId = set.id !== undefined && set.id !== this.#id;
        if (set.id !== undefined) this.#id = set.id;
        if (set.address === undefined && !newId) return;
        // A new session: its ids start again at 1, and it knows none of our subscriptions.
        if (this.#address !== undefined) this.#orphanSent();
        this.#address = set.address;
        this.#watermark = 0;
        if (this.#id !== undefined && this.#address !== undefined) {
          this.#announced = true;
          const previous = this.#previousClose;
          this.#previousClose = undefined;
          this.#emitter.emit('session', {
            id: this.#id,
            address: this.#address,
            resumed: false,
            ...(previous && { previous }),
          });
        }
        this.#resubscribe();
      },
      success: () => {
        if (this.#state !== 'connecting') return;
        if (!this.#announced && this.#id !== undefined && this.#address !== undefined) {
          this.#announced = true;
          this.#emitter.emit('session', { id: this.#id, address: this.#address, resumed: true });
        }
        this.#setState('connected');
        this.#emitter.emit('connected');
      },
      interrupted: (reason) => this.#lost(reason),
      retryIn: (delay, attempt) => {
        if (this.#state !== 'disconnected') this.#emitter.emit('reconnecting', { delay, attempt });
      },
      message: (frame) => {
        const n = Number(frame.id);
        const numbered = Number.isSafeInteger(n) && n > 0;
        if (numbered) {
          // Ids increase per session: anything at or below the watermark was delivered already.
          if (n <= this.#watermark) return;
          this.#watermark = n;
        }
        const channel = frame.channel;
        this.#emitter.emit('message', {
          id: numbered ? n : 0,
          data: frame.data,
          ...(channel !== undefined && channel.startsWith('/') && { path: channel }),
          ...(frame.sender !== undefined && { from: frame.sender }),
        });
      },
      ack: (id) => this.#outbox.delivered(id),
      sending: (ids) => this.#outbox.sending(ids),
      retrying: (ids) => this.#outbox.retrying(ids),
      rejected: (ids, error) => {
        const again: OutgoingFrame[] = [];
        for (const id of ids) {
          const record: OutgoingRecord | undefined = this.#outbox.unfinished(id);
          if (!record) continue;
          if (error.code === SESSION_CLOSED && record.exposed && !record.meta) {
            // Not processed now, but an earlier attempt may have reached the session that ended.
            // (A subscribe goes again whatever happened: subscribing twice is harmless.)
            this.#outbox.drop(record, sessionLost(record.id));
          } else if (error.code === SESSION_CLOSED || error.code === ACKS_PENDING) {
            // Not now, not never: it goes again (to the new session, or behind the request that
            // takes the acks).
            this.#outbox.again(record);
            again.push(record.frame);
          } else {
            this.#outbox.drop(record, error);
          }
        }
        if (again.length > 0) this.#transport.requeue(again);
      },
      pending: (id) => this.#outbox.live(id),
      error: (error) => this.#emitter.emit('error', error),
      closed: (info) => {
        if (info.reconnect) {
          // Told again with the session that replaces it, in case we were not connected now.
          this.#previousClose = info;
          this.#lost(info.reason);
          return;
        }
        const wasConnected = this.#state === 'connected';
        this.#stop(
          new ClientError(CLIENT_ERROR_CODES.DROPPED, `the server ended the session (${info.reason})`),
          info.reason,
        );
        if (!wasConnected) this.#emitter.emit('disconnected', info.reason);
      },
      fatal: (error) => {
        // Pending sends reject with the auth code: retrying cannot deliver them.
        this.#stop(error, error.message);
        this.#emitter.emit('error', error);
      },
      blocked: (reason) => this.#fallBack(reason),
    };
  }

  /** The current transport cannot get through: the next one takes over, with every unacked message. */
  #fallBack(reason: string): void {
    if (this.#current + 1 >= this.#order.length || this.#state === 'disconnected') return;
    const name = this.#order[this.#current + 1] as TransportName;
    this.#emitter.emit(
      'error',
      new ClientError(CLIENT_ERROR_CODES.TRANSPORT_BLOCKED, `${reason}; falling back to ${name}`),
    );
    if (this.#rememberKey !== undefined) rememberFallback(this.#rememberKey, name);
    this.#switchTo(this.#current + 1);
    this.#scheduleProbe();
  }

  /** Hands every unfinished message to the transport at `index`, which takes over now. */
  #switchTo(index: number): void {
    this.#transport.stop();
    this.#current = index;
    this.#transport = this.#makeTransport(index);
    this.#emitter.emit('transport', this.#transport.name);
    this.#transport.start();
    for (const record of this.#outbox.lives()) this.#transport.push(record.frame);
  }

  /** On a fallback, probes the preferred transport now and then (only WebSocket is probed). */
  #scheduleProbe(): void {
    const probe = this.#probe;
    if (probe === false || this.#probeTimer !== undefined || this.#current === 0) return;
    if (this.#order[0] !== 'websocket' || this.#WebSocket === undefined) return;
    this.#probeDelay = this.#probeDelay === 0 ? probe.min : Math.min(this.#probeDelay * 2, probe.max);
    // Jittered, so that the pages a proxy blocked do not all probe at once.
    const delay = this.#probeDelay * (0.75 + Math.random() / 2);
    this.#probeTimer = setTimeout(() => {
      void this.#runProbe(this.#WebSocket as WebSocketConstructor);
    }, delay);
  }

  async #runProbe(WebSocketClass: WebSocketConstructor): Promise<void> {
    const url = toWebSocketUrl(this.#endpoint('websocket'));
    const ok = await probeWebSocket(WebSocketClass, url, PROBE_TIMEOUT_MS);
    this.#probeTimer = undefined;
    if (this.#state === 'disconnected' || this.#current === 0) return;
    if (!ok) {
      this.#scheduleProbe();
      return;
    }
    if (this.#rememberKey !== undefined) forgetFallback(this.#rememberKey);
    this.#probeDelay = 0;
    this.#switchTo(0);
  }
}

export function createClient(options: ClientOptions): Client {
  return new Client(options);
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/** What a transport needs that this runtime may lack, or undefined when it can run here. */
function cannotRun(
  name: TransportName,
  WebSocketClass: WebSocketConstructor | undefined,
): string | undefined {
  if (name === 'websocket')
    return WebSocketClass === undefined
      ? "a WebSocket class (pass options.WebSocket, e.g. the ws package's)"
      : undefined;
  return typeof fetch === 'function' && typeof AbortController === 'function'
    ? undefined
    : 'fetch and AbortController';
}

function positive(name: string, value: number | undefined, fallback: number, zero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zero && value === 0)) {
    throw new ClientError('SB_ERR_CONFIG', `${name} must be a finite number > 0, got ${String(value)}`);
  }
  return value;
}

/** A random prefix for our message ids, so a restarted client with a static id never reuses one. */
function randomPrefix(): string {
  const bytes = new Uint8Array(6);
  const crypto = (globalThis as { crypto?: { getRandomValues?(a: Uint8Array): Uint8Array } }).crypto;
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let n = 0;
  for (const b of bytes) n = n * 256 + b;
  return String(n);
}
