/**
 * The Switchboard client: one API over pluggable transports (WebSocket and LPIO; `transports`
 * tries them in order and remembers what worked). The client owns
 * what every transport shares: outgoing message states and ack timeouts, inbound duplicate
 * detection, subscriptions (re-sent on a new session) and the connection state machine. A
 * transport owns the wire: framing, batching, holding, retries and backoff.
 *
 * Runs in browsers and Node alike: fetch, AbortController, WebSocket and timers only.
 * @module
 */
import type { BackoffOptions } from './backoff.js';
import { Emitter, type Handler } from './emitter.js';
import { ACKS_PENDING, CLIENT_ERROR_CODES, ClientError } from './errors.js';
import { utf8Length, type ServerLimits } from './limits.js';
import type { WebSocketConstructor } from './connection.js';
import { LpioTransport } from './transports/lpio.js';
import { WebSocketTransport } from './transports/websocket.js';

export type TransportName = 'websocket' | 'lpio';
const TRANSPORT_NAMES: readonly TransportName[] = ['websocket', 'lpio'];
/** Where each transport is served, relative to the server's URL (with `transports`). */
export const DEFAULT_PATHS: Readonly<Record<TransportName, string>> = Object.freeze({
  websocket: '/ws',
  lpio: '/lpio',
});
export type ClientState = 'disconnected' | 'connecting' | 'connected';
export type OutgoingState = 'unsent' | 'sent' | 'retrying' | 'delivered' | 'dropped';

/** Credentials merged into every request: headers, and fields of the top-level JSON body. */
export interface AuthParts {
  readonly headers?: Record<string, string>;
  readonly body?: Record<string, unknown>;
}

export interface ClientOptions {
  /**
   * With `transport` (or neither): the endpoint, e.g. `http://127.0.0.1:8080/lpio` or `/lpio`.
   * With `transports`: the server, e.g. `http://127.0.0.1:8080` or `/`; each transport adds its path.
   */
  readonly url: string;
  /** One transport at `url`. Default `lpio`. */
  readonly transport?: TransportName;
  /**
   * Transports to try in this order, e.g. `['websocket', 'lpio']`: the next is tried when one
   * cannot connect at all (refused, blocked by a proxy), and the one that worked is tried first next
   * time (remembered per URL, in localStorage where there is one).
   */
  readonly transports?: readonly TransportName[];
  /** Paths of the transports under `url` when `transports` is used. Default `/ws` and `/lpio`. */
  readonly paths?: Partial<Record<TransportName, string>>;
  /** The WebSocket class, where there is no global one (Node 20: `import { WebSocket } from 'ws'`). */
  readonly WebSocket?: WebSocketConstructor;
  /** WebSocket make-before-break rotation interval, randomized in [min, max] ms. Default 10–15 min. */
  readonly rotate?: { readonly min: number; readonly max: number } | false;
  /** A static client id (session id); otherwise the server assigns one. */
  readonly id?: string;
  /** Merged into every request; a function is called once per request (fresh tokens). */
  readonly auth?: AuthParts | (() => AuthParts);
  /** A send without an ack within this many ms rejects with SB_ERR_ACK_TIMEOUT. Default 1000 (seed 000). */
  readonly ackTimeout?: number;
  /** A request without a response within this many ms is aborted and retried. Default 25000. */
  readonly responseTimeout?: number;
  /**
   * At most one held request is aborted for new messages per this many ms: the first message after a
   * quiet window goes at once, later ones gather. Default 20.
   */
  readonly batchWindow?: number;
  readonly backoff?: BackoffOptions;
}

export interface SendOptions {
  /** Publish to this path (starts with "/"). */
  readonly path?: string;
  /** Send directly to the session with this address. */
  readonly to?: string;
  /** Skip the batching window. */
  readonly urgent?: boolean;
  /** Default true; false lets the server drop it under pressure. */
  readonly reliable?: boolean;
}

export interface ClientMessage {
  /** The server's id for it: increasing per session. */
  readonly id: number;
  readonly data: unknown;
  /** The path it was published to; absent for direct messages. */
  readonly path?: string;
  /** The sender's address; absent when the application sent it. */
  readonly from?: string;
}

export interface SessionInfo {
  readonly id: string;
  readonly address: string;
  /** True when the server kept the session (its subscriptions and queue) across a reconnect. */
  readonly resumed: boolean;
  /**
   * For a new session that replaces one the server ended: why it ended (e.g. 4104 `lost`: a
   * cluster's Redis lost its data; messages queued for the old session are gone).
   */
  readonly previous?: CloseInfo;
}

export interface OutgoingSnapshot {
  readonly id: string;
  readonly state: OutgoingState;
  /** When it entered `state` (ms since epoch). */
  readonly at: number;
  /** Requests that carried it so far. */
  readonly attempts: number;
}

export interface ClientEvents {
  /** The client now uses this transport (at connect, and after a fallback). */
  transport: [name: TransportName];
  connected: [];
  disconnected: [reason?: string];
  message: [message: ClientMessage];
  error: [error: ClientError];
  state: [state: ClientState];
  session: [session: SessionInfo];
  messageState: [change: { id: string; state: OutgoingState; at: number }];
}

/** One client → server data message as a transport carries it. */
export interface OutgoingFrame {
  readonly id: string;
  readonly data: unknown;
  /** A path (starts with "/") or a recipient address. */
  readonly channel?: string;
  readonly urgent?: boolean;
  readonly reliable?: boolean;
}

/** One server → client data message as a transport hands it over. */
export interface IncomingFrame {
  readonly id: string;
  readonly data: unknown;
  readonly channel?: string;
  readonly sender?: string;
}

/** How the server ended a session (the close-reason table in docs/errors.md). */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly reconnect: boolean;
}

/**
 * What a transport reports to its client. Calls may stop the transport (`stop()` from inside a
 * callback); a transport checks that it still runs after each call.
 */
export interface TransportHost {
  /** The session id to present, if any. */
  clientId(): string | undefined;
  /** The session's public address, once known. */
  address(): string | undefined;
  /** The server told us the address of the session we resumed (LPIO `describe`). */
  described(address: string): void;
  auth(): AuthParts;
  /** The server assigned an id and/or (re)opened a session: inbound ids restart at 1. */
  session(set: { readonly id?: string; readonly address?: string }): void;
  /** A request or connection succeeded. */
  success(): void;
  /** A data message arrived (the transport acks it whatever the client does with it). */
  message(frame: IncomingFrame): void;
  /** The server acked one of our messages. */
  ack(id: string): void;
  /** These messages are on the wire now (counts an attempt). */
  sending(ids: readonly string[]): void;
  /** These messages failed to get through and wait to be sent again with the same ids. */
  retrying(ids: readonly string[]): void;
  /** The server refused these messages (nothing of the request was processed). */
  rejected(ids: readonly string[], error: ClientError): void;
  /** Whether a message still waits for its ack (false after a timeout or disconnect). */
  pending(id: string): boolean;
  error(error: ClientError): void;
  /** The backoff reached its maximum: seed 000's "disconnected". The transport keeps retrying. */
  unreachable(reason: string): void;
  /** The server ended the session. */
  closed(info: CloseInfo): void;
  /** Retrying cannot help (401, 403): the transport has stopped. */
  fatal(error: ClientError): void;
  /** The transport never got through and has stopped: try the next one. */
  blocked(reason: string): void;
}

/** A wire protocol. `websocket` and `sse` transports implement this too. */
export interface Transport {
  readonly name: TransportName;
  /** Starts connecting; no-op when running. */
  start(): void;
  /** Stops at once: aborts what is in flight, clears timers. Unsent frames stay buffered. */
  stop(): void;
  /** Queues one message; `urgent` ones skip the batching window. */
  push(frame: OutgoingFrame): void;
  /**
   * Queues again messages the server asked to have later (SB_ERR_ACKS_PENDING), in the order
   * given, ahead of the ones queued since.
   */
  requeue(frames: readonly OutgoingFrame[]): void;
  /** Forgets a queued message that was given up (it may already be on the wire). */
  cancel(id: string): void;
  /** What the server accepts per request or frame, as it last announced (its defaults before). */
  readonly limits: ServerLimits;
}

export interface TransportSettings {
  readonly url: string;
  readonly responseTimeout: number;
  readonly batchWindow: number;
  readonly backoff: BackoffOptions;
}

interface Outgoing {
  readonly id: string;
  /** As handed to the transport; kept to hand it to the next one after a fallback. */
  readonly frame: OutgoingFrame;
  /** Internal (subscribe/unsubscribe): not listed by messages(). */
  readonly meta: boolean;
  state: OutgoingState;
  at: number;
  attempts: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: () => void;
  reject: (error: ClientError) => void;
}

const META_SUBSCRIBE = '/meta/subscribe';
const META_UNSUBSCRIBE = '/meta/unsubscribe';
/** Finished messages kept for messages(); older ones are forgotten. */
const HISTORY = 1_000;

export class Client {
  readonly #emitter: Emitter<ClientEvents>;
  #transport: Transport;
  /** The fallback order, the current one first; one entry without `transports`. */
  readonly #order: TransportName[];
  #current = 0;
  readonly #rememberKey: string | undefined;
  readonly #makeTransport: (name: TransportName, last: boolean) => Transport;
  readonly #ackTimeout: number;
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
  readonly #outgoing = new Map<string, Outgoing>();
  readonly #finished: string[] = [];
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
    const list = given as TransportName[];
    if (options.transports !== undefined && options.transport !== undefined) {
      throw new ClientError('SB_ERR_CONFIG', 'give transport or transports, not both');
    }
    this.#rememberKey = options.transports ? options.url : undefined;
    const remembered = this.#rememberKey === undefined ? undefined : recall(this.#rememberKey);
    this.#order =
      remembered && list.includes(remembered)
        ? [remembered, ...list.filter((t) => t !== remembered)]
        : [...list];
    this.#ackTimeout = positive('ackTimeout', options.ackTimeout, 1_000);
    const settings: TransportSettings = {
      url: options.url,
      responseTimeout: positive('responseTimeout', options.responseTimeout, 25_000),
      batchWindow: positive('batchWindow', options.batchWindow, 20, true),
      backoff: options.backoff ?? {},
    };
    const endpoint = (name: TransportName) =>
      options.transports ? joinUrl(options.url, options.paths?.[name] ?? DEFAULT_PATHS[name]) : options.url;
    this.#makeTransport = (name, last) =>
      name === 'websocket'
        ? new WebSocketTransport(
            {
              ...settings,
              url: endpoint(name),
              WebSocket: options.WebSocket,
              rotate: options.rotate,
              // The last transport in the list keeps trying rather than give up.
              blockedAfter: last ? Infinity : 2,
            },
            this.#host(),
          )
        : new LpioTransport({ ...settings, url: endpoint(name) }, this.#host());
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
    this.#transport = this.#makeTransport(this.#order[0] as TransportName, this.#order.length === 1);
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
  }

  /** Stops; pending sends reject with SB_ERR_DROPPED. The id is kept: connect() resumes the session. */
  disconnect(): void {
    if (this.#state === 'disconnected') return;
    this.#stop(new ClientError(CLIENT_ERROR_CODES.DROPPED, 'the client disconnected'), 'client disconnect');
  }

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
    if (json.length * 3 > max && utf8Length(json) > max) {
      return Promise.reject(
        new ClientError('SB_ERR_PAYLOAD_TOO_LARGE', `the message is over the server's limit of ${max} bytes`),
      );
    }
    return this.#send(data, options, false);
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
      if (error.code !== CLIENT_ERROR_CODES.ACK_TIMEOUT && error.code !== CLIENT_ERROR_CODES.DROPPED) {
        this.#patterns.delete(pattern);
      }
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
    for (const m of this.#outgoing.values()) {
      if (!m.meta) list.push({ id: m.id, state: m.state, at: m.at, attempts: m.attempts });
    }
    return list;
  }

  // ---------------------------------------------------------------- internals

  #send(data: unknown, options: SendOptions, meta: boolean): Promise<void> {
    const id = `${this.#prefix}-${++this.#counter}`;
    const channel = options.path ?? options.to;
    const frame: OutgoingFrame = {
      id,
      data,
      ...(channel !== undefined && { channel }),
      ...(options.urgent === true && { urgent: true }),
      ...(options.reliable === false && { reliable: false }),
    };
    return new Promise<void>((resolve, reject) => {
      const record: Outgoing = {
        id,
        frame,
        meta,
        state: 'unsent',
        at: Date.now(),
        attempts: 0,
        timer: undefined,
        resolve,
        reject,
      };
      this.#outgoing.set(id, record);
      if (!meta) this.#emitter.emit('messageState', { id, state: 'unsent', at: record.at });
      // seed 000: "Client expects to get an ack within ackTimeout. If it doesn't, the message is
      // considered undelivered." It is not sent any more if it has not been yet.
      record.timer = setTimeout(() => {
        this.#transport.cancel(id);
        this.#finish(
          record,
          'dropped',
          new ClientError(
            CLIENT_ERROR_CODES.ACK_TIMEOUT,
            `no ack for message ${id} within ${this.#ackTimeout} ms`,
          ),
        );
      }, this.#ackTimeout);
      this.#transport.push(frame);
    });
  }

  #setOutgoing(record: Outgoing, state: OutgoingState): void {
    record.state = state;
    record.at = Date.now();
    if (!record.meta) this.#emitter.emit('messageState', { id: record.id, state, at: record.at });
  }

  #finish(record: Outgoing, state: 'delivered' | 'dropped', error?: ClientError): void {
    if (record.state === 'delivered' || record.state === 'dropped') return;
    clearTimeout(record.timer);
    record.timer = undefined;
    this.#finished.push(record.id);
    while (this.#finished.length > HISTORY) this.#outgoing.delete(this.#finished.shift() as string);
    if (record.meta) this.#outgoing.delete(record.id);
    this.#setOutgoing(record, state);
    if (error) record.reject(error);
    else record.resolve();
  }

  #pendingRecord(id: string): Outgoing | undefined {
    const record = this.#outgoing.get(id);
    return record && record.state !== 'delivered' && record.state !== 'dropped' ? record : undefined;
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
    const wasConnected = this.#state === 'connected';
    this.#announced = false;
    for (const record of [...this.#outgoing.values()]) {
      if (this.#pendingRecord(record.id)) {
        this.#transport.cancel(record.id);
        this.#finish(record, 'dropped', error);
      }
    }
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
        // A refusal was reported as 'error' by the transport already; a timeout was not.
        if (error.code === CLIENT_ERROR_CODES.ACK_TIMEOUT) this.#emitter.emit('error', error);
        // Refused by the server (past its limit, not allowed): no longer one of ours.
        else if (error.code !== CLIENT_ERROR_CODES.DROPPED) this.#patterns.delete(pattern);
      });
    }
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
        if (this.#rememberKey !== undefined) remember(this.#rememberKey, this.#transport.name);
        if (this.#state !== 'connecting') return;
        if (!this.#announced && this.#id !== undefined && this.#address !== undefined) {
          this.#announced = true;
          this.#emitter.emit('session', { id: this.#id, address: this.#address, resumed: true });
        }
        this.#setState('connected');
        this.#emitter.emit('connected');
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
      ack: (id) => {
        const record = this.#pendingRecord(id);
        if (record) this.#finish(record, 'delivered');
      },
      sending: (ids) => {
        for (const id of ids) {
          const record = this.#pendingRecord(id);
          if (!record) continue;
          record.attempts++;
          this.#setOutgoing(record, record.attempts > 1 ? 'retrying' : 'sent');
        }
      },
      retrying: (ids) => {
        for (const id of ids) {
          const record = this.#pendingRecord(id);
          if (record && record.state !== 'retrying') this.#setOutgoing(record, 'retrying');
        }
      },
      rejected: (ids, error) => {
        const again: OutgoingFrame[] = [];
        for (const id of ids) {
          const record = this.#pendingRecord(id);
          if (!record) continue;
          if (error.code !== ACKS_PENDING) {
            this.#finish(record, 'dropped', error);
            continue;
          }
          // Not now, not never: it goes again, behind the request that takes the acks.
          this.#setOutgoing(record, 'retrying');
          again.push(record.frame);
        }
        if (again.length > 0) this.#transport.requeue(again);
      },
      pending: (id) => this.#pendingRecord(id) !== undefined,
      error: (error) => this.#emitter.emit('error', error),
      unreachable: (reason) => this.#lost(reason),
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
    const failed = this.#transport;
    failed.stop();
    this.#current++;
    const name = this.#order[this.#current] as TransportName;
    this.#transport = this.#makeTransport(name, this.#current === this.#order.length - 1);
    this.#emitter.emit(
      'error',
      new ClientError(CLIENT_ERROR_CODES.TRANSPORT_BLOCKED, `${reason}; falling back to ${name}`),
    );
    this.#emitter.emit('transport', name);
    this.#transport.start();
    for (const record of this.#outgoing.values()) {
      if (this.#pendingRecord(record.id)) this.#transport.push(record.frame);
    }
  }
}

export function createClient(options: ClientOptions): Client {
  return new Client(options);
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/** The transport that last worked, per server URL: in memory, and in localStorage where it exists. */
const worked = new Map<string, TransportName>();
const storageKey = (url: string) => `switchboard:transport:${url}`;

function storage(): { getItem(k: string): string | null; setItem(k: string, v: string): void } | undefined {
  try {
    return (
      globalThis as {
        localStorage?: { getItem(k: string): string | null; setItem(k: string, v: string): void };
      }
    ).localStorage;
  } catch {
    return undefined; // access denied (sandboxed iframe, privacy settings)
  }
}

function recall(url: string): TransportName | undefined {
  const stored = worked.get(url) ?? storage()?.getItem(storageKey(url)) ?? undefined;
  return TRANSPORT_NAMES.find((name) => name === stored);
}

function remember(url: string, name: TransportName): void {
  if (worked.get(url) === name) return;
  worked.set(url, name);
  try {
    storage()?.setItem(storageKey(url), name);
  } catch {
    // Quota or privacy mode: the in-memory copy still serves this page.
  }
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
