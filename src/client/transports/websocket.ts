/**
 * The WebSocket transport (seed 002; docs/protocols/websocket.md) on top of the connection layer
 * in ../connection.ts, which owns sockets, reconnects, keep-alives and rotation. This file speaks
 * the session protocol:
 * 1. Every new socket says `hello` with the session id and the last server id received; the
 *    `welcome` answer says whether the session was resumed or is new.
 * 2. Server data frames carry no id: a `seq` frame names the next id, each data frame takes one.
 *    Ids at or below the last one received are dropped (a resume or rotation may repeat some).
 * 3. Received ids are acked cumulatively, at most `ackDelay` ms after they arrive.
 * 4. Our messages stay unacked until the server's `ack` names them, and are sent again with the
 *    same ids on every new socket (the server drops duplicates).
 * @module
 */
import type { OutgoingFrame, Transport, TransportHost, TransportSettings } from '../transport.js';
import { WebSocketConnection, type CloseEventInfo, type WebSocketConstructor } from '../connection.js';
import { closeInfoOf } from '../close-info.js';
import { ACKS_PENDING, CLIENT_ERROR_CODES, ClientError } from '../errors.js';
import { DEFAULT_LIMITS, limitsOf, takeFitting, utf8Length, type ServerLimits } from '../limits.js';

export interface WebSocketTransportSettings extends TransportSettings {
  readonly WebSocket: WebSocketConstructor | undefined;
  readonly rotate: { readonly min: number; readonly max: number } | false | undefined;
  /** Failed connects in a row, never having connected, after which the transport reports `blocked`. */
  readonly blockedAfter: number;
}

/**
 * Acks are cumulative and cheap to delay: the server only needs them to free its unacked tail
 * (at most `maxUnacked`, 1,000 by default). An ack about every second, or every 128 messages,
 * costs the server one frame per 128 deliveries under load instead of one per delivery.
 * The delay is drawn from 0.75–1.25 s each time: clients that got the same broadcast would
 * otherwise ack in the same instant every second, and that burst delays the next fan-out.
 */
const ACK_DELAY = 1_000;
const ackDelay = (): number => ACK_DELAY * (0.75 + Math.random() / 2);
const ACK_EVERY = 128;
const PING = '{"type":"ping"}';

interface ServerFrame {
  type?: unknown;
  session?: unknown;
  address?: unknown;
  resumed?: unknown;
  keepAlive?: unknown;
  timeout?: unknown;
  limits?: unknown;
  close?: { code?: unknown; reason?: unknown; reconnect?: unknown };
  next?: unknown;
  ids?: unknown;
  id?: unknown;
  code?: unknown;
  message?: unknown;
  channel?: unknown;
  sender?: unknown;
  data?: unknown;
}

/** Close codes of docs/errors.md: 4500–4599 and policy violations mean "do not come back as is". */
const isFinal = (code: number) => (code >= 4500 && code <= 4599) || code === 1008;

export class WebSocketTransport implements Transport {
  readonly name = 'websocket' as const;
  readonly #host: TransportHost;
  readonly #connection: WebSocketConnection;
  readonly #blockedAfter: number;
  /** Sent or waiting, until the server acks them; re-sent on every new socket. */
  readonly #unacked = new Map<string, OutgoingFrame>();
  /** Pushed while connected, not yet written (one frame per turn). */
  #batch: OutgoingFrame[] = [];
  /** Refused for "not now" (SB_ERR_ACKS_PENDING): written ahead of the batch, in their order. */
  #again: OutgoingFrame[] = [];
  #batchScheduled = false;
  #running = false;
  /** Id of the next data frame (from `seq`), and the highest id handed over. */
  #next = 0;
  #lastSeen = 0;
  #ackedUpTo = 0;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** Connects that failed in a row before any socket ever became ready. */
  #failures = 0;
  #everConnected = false;
  #limits: ServerLimits = DEFAULT_LIMITS;

  constructor(settings: WebSocketTransportSettings, host: TransportHost) {
    this.#host = host;
    this.#blockedAfter = settings.blockedAfter;
    this.#connection = new WebSocketConnection(
      {
        url: toWebSocketUrl(settings.url),
        WebSocket: settings.WebSocket,
        backoff: settings.backoff,
        rotate: settings.rotate,
        keepAliveFrame: PING,
        greeting: () => this.#hello(),
        isReady: (msg) => msg.startsWith('{"type":"welcome"'),
      },
      {
        onOpen: () => undefined,
        onClose: (info) => this.#onClose(info),
        onRetry: (delay, attempt) => this.#host.retryIn(delay, attempt),
      },
    );
    this.#connection.onMessage = (msg) => this.#onMessage(msg);
  }

  /** What the server accepts per frame (from its `welcome`; its defaults until then). */
  get limits(): ServerLimits {
    return this.#limits;
  }

  /** Seed 002's connection layer, for code that wants strings rather than the client's API. */
  get connection(): WebSocketConnection {
    return this.#connection;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#failures = 0;
    this.#connection.start();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#connection.stop();
    this.#batch = [];
    this.#again = [];
  }

  push(frame: OutgoingFrame): void {
    this.#unacked.set(frame.id, frame);
    if (!this.#connection.isConnected()) return; // goes out after the next welcome
    this.#batch.push(frame);
    if (frame.urgent === true) {
      this.#flushBatch();
      return;
    }
    if (this.#batchScheduled) return;
    this.#batchScheduled = true;
    // Everything pushed in one turn of the event loop goes in one frame.
    queueMicrotask(() => this.#flushBatch());
  }

  requeue(frames: readonly OutgoingFrame[]): void {
    for (const frame of frames) if (!this.#unacked.has(frame.id)) this.#unacked.set(frame.id, frame);
    if (!this.#connection.isConnected()) return; // goes out after the next welcome
    this.#again.push(...frames);
    if (this.#batchScheduled) return;
    this.#batchScheduled = true;
    queueMicrotask(() => this.#flushBatch());
  }

  cancel(id: string): void {
    this.#unacked.delete(id);
  }

  #hello(): string {
    const session = this.#host.clientId();
    return JSON.stringify({
      type: 'hello',
      ...(session !== undefined && { session }),
      ...(session !== undefined && this.#lastSeen > 0 && { last: this.#lastSeen }),
    });
  }

  #flushBatch(): void {
    this.#batchScheduled = false;
    const due = this.#again.length > 0 ? [...this.#again, ...this.#batch] : this.#batch;
    const frames = due.filter((f) => this.#unacked.has(f.id) && this.#host.pending(f.id));
    this.#again = [];
    this.#batch = [];
    this.#write(frames);
  }

  /**
   * Sends frames in as few WebSocket frames as the server's limits allow (`welcome.limits`): a
   * frame over them would be refused whole, and one over `bytes` closes the connection (1009).
   */
  #write(frames: readonly OutgoingFrame[]): void {
    const wire = new Map<OutgoingFrame, string>();
    const fitting: OutgoingFrame[] = [];
    for (const frame of frames) {
      const text = JSON.stringify({ type: 'data', ...frame });
      // Alone in a frame (with the brackets and separator takeFitting counts), a message must fit
      // the frame limit: else no frame can carry it.
      if (utf8Length(text) + 3 > this.#limits.bytes) {
        this.#unacked.delete(frame.id);
        this.#host.rejected([frame.id], tooLarge(frame.id, this.#limits.bytes));
        if (!this.#running) return;
        continue;
      }
      wire.set(frame, text);
      fitting.push(frame);
    }
    let rest: readonly OutgoingFrame[] = fitting;
    while (rest.length > 0) {
      const n = takeFitting(rest, (f) => utf8Length(wire.get(f) as string), this.#limits, 2);
      if (n === 0) return; // cannot happen (each fits alone); never loop
      const chunk = rest.slice(0, n);
      const texts = chunk.map((f) => wire.get(f) as string);
      if (!this.#connection.send(texts.length === 1 ? (texts[0] as string) : `[${texts.join(',')}]`)) return;
      this.#host.sending(chunk.map((f) => f.id));
      rest = rest.slice(n);
    }
  }

  #onMessage(msg: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(msg) as ServerFrame;
    } catch (error) {
      this.#host.error(
        new ClientError(CLIENT_ERROR_CODES.BAD_RESPONSE, 'a frame is not JSON', { cause: error }),
      );
      return;
    }
    switch (frame.type) {
      case 'data':
        this.#onData(frame);
        return;
      case 'seq':
        if (typeof frame.next === 'number') this.#next = frame.next;
        return;
      case 'ack':
        if (Array.isArray(frame.ids)) {
          for (const id of frame.ids) {
            if (typeof id !== 'string') continue;
            this.#unacked.delete(id);
            this.#host.ack(id);
            if (!this.#running) return;
          }
        }
        return;
      case 'welcome':
        this.#onWelcome(frame);
        return;
      case 'error':
        this.#onError(frame);
        return;
      default:
        return; // ping, and types of a newer server
    }
  }

  #onWelcome(frame: ServerFrame): void {
    this.#failures = 0;
    this.#everConnected = true;
    if (typeof frame.keepAlive === 'number' && typeof frame.timeout === 'number')
      this.#connection.setTimers(frame.keepAlive, frame.timeout);
    this.#limits = limitsOf(frame.limits, this.#limits);
    const close = closeInfoOf(frame.close);
    if (close) {
      this.#host.closed(close);
      if (!this.#running) return;
    }
    if (frame.resumed !== true && typeof frame.session === 'string' && typeof frame.address === 'string') {
      // A new session: its ids start again at 1.
      this.#next = 0;
      this.#lastSeen = 0;
      this.#ackedUpTo = 0;
      this.#host.session({ id: frame.session, address: frame.address });
      if (!this.#running) return;
    }
    this.#host.success();
    if (!this.#running) return;
    // Everything not yet acked goes again, in order, with the same ids.
    this.#batch = [];
    this.#write([...this.#unacked.values()].filter((f) => this.#host.pending(f.id)));
  }

  #onData(frame: ServerFrame): void {
    const id = this.#next++;
    if (id <= this.#lastSeen) return;
    this.#lastSeen = id;
    this.#host.message({
      id: String(id),
      data: frame.data,
      ...(typeof frame.channel === 'string' && { channel: frame.channel }),
      ...(typeof frame.sender === 'string' && { sender: frame.sender }),
    });
    if (!this.#running) return;
    if (this.#lastSeen - this.#ackedUpTo >= ACK_EVERY) this.#ack();
    else this.#ackTimer ??= setTimeout(() => this.#ack(), ackDelay());
  }

  #ack(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (this.#lastSeen <= this.#ackedUpTo) return;
    if (this.#connection.send(`{"type":"ack","upTo":${this.#lastSeen}}`)) this.#ackedUpTo = this.#lastSeen;
  }

  #onError(frame: ServerFrame): void {
    const error = new ClientError(
      typeof frame.code === 'string' ? frame.code : 'SB_ERR_BAD_REQUEST',
      typeof frame.message === 'string' ? frame.message : 'the server refused a frame',
    );
    const ids = Array.isArray(frame.ids)
      ? frame.ids.filter((id): id is string => typeof id === 'string')
      : [];
    // Refused for "not now": still ours to send, in its place for a resend after a reconnect.
    if (error.code !== ACKS_PENDING) for (const id of ids) this.#unacked.delete(id);
    // Reported once: through the refused messages' promises, or as an error when it names none.
    if (ids.length > 0) this.#host.rejected(ids, error);
    else if (this.#running && error.code !== ACKS_PENDING) this.#host.error(error);
  }

  #onClose(info: CloseEventInfo): boolean {
    if (!this.#running) return false;
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (info.beforeReady && !this.#everConnected) {
      this.#failures++;
      if (this.#failures >= this.#blockedAfter) {
        this.#host.blocked(
          `websocket could not connect (${info.code}${info.reason ? ` ${info.reason}` : ''})`,
        );
        return false;
      }
    }
    const reason = info.reason || `closed (${info.code})`;
    if (info.code >= 4100 && info.code <= 4599) {
      this.#host.closed({ code: info.code, reason, reconnect: !isFinal(info.code) });
      return this.#running && !isFinal(info.code);
    }
    if (isFinal(info.code)) {
      this.#host.fatal(new ClientError(CLIENT_ERROR_CODES.FORBIDDEN, reason));
      return false;
    }
    if (!info.beforeReady) this.#host.interrupted(reason);
    return this.#running;
  }
}

/** `http(s)://host/ws` → `ws(s)://host/ws`; relative URLs resolve against the page. */
export function toWebSocketUrl(url: string): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const absolute = new URL(url, base);
  if (absolute.protocol === 'http:') absolute.protocol = 'ws:';
  else if (absolute.protocol === 'https:') absolute.protocol = 'wss:';
  return absolute.toString();
}

function tooLarge(id: string, limit: number): ClientError {
  return new ClientError(
    'SB_ERR_PAYLOAD_TOO_LARGE',
    `message ${id} does not fit in a frame of ${limit} bytes`,
  );
}
