/**
 * Seed 002's connection layer over WebSocket: `isConnected()`, `send(msg)`, `onMessage`, and
 * underneath them everything that keeps one connection alive:
 * - reconnects after any close or error, with exponential backoff and full jitter, capped;
 * - keep-alives when nothing was sent for `keepAliveMs`, and a reconnect when nothing was heard
 *   for `idleTimeoutMs` (seed 002: 5 s);
 * - make-before-break rotation every 10–15 min (randomized): a new socket is opened and greeted
 *   while the old one carries on; once the new one is ready it takes over sending and the old
 *   one is closed. Nothing is lost: the greeting resumes the session after the last id received,
 *   and the layer above drops ids it has already seen.
 *
 * It knows nothing of sessions: `greeting()` is the first frame of every new socket and
 * `isReady(msg)` recognises the answer that makes the socket usable.
 * @module
 */
import { Backoff, type BackoffOptions } from './backoff.js';

/** The part of the WHATWG WebSocket API used here (browsers' own, or `ws` in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: EventHandler<unknown>;
  onmessage: EventHandler<{ data: unknown }>;
  onclose: EventHandler<{ code: number; reason: string }>;
  onerror: EventHandler<unknown>;
}

/**
 * A handler property, declared method-style so that its parameter is checked bivariantly: the
 * browser's and the `ws` package's sockets declare richer event types than the fields read here,
 * and must fit without a cast.
 */
type EventHandler<E> = { handle(event: E): void }['handle'] | null;

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ConnectionOptions {
  readonly url: string;
  /** Defaults to `globalThis.WebSocket` (browsers, Node 22+); pass `ws`'s class on Node 20. */
  readonly WebSocket?: WebSocketConstructor;
  /** Reconnect delays; `full` jitter is on by default here. */
  readonly backoff?: BackoffOptions;
  /** Make-before-break rotation interval in ms, randomized in [min, max]; false to never rotate. */
  readonly rotate?: { readonly min: number; readonly max: number } | false;
  readonly keepAliveMs?: number;
  readonly idleTimeoutMs?: number;
  /** Sent when nothing else was sent for `keepAliveMs`. */
  readonly keepAliveFrame?: string;
  /** The first frame on every new socket. */
  readonly greeting?: () => string;
  /** Whether a frame completes the greeting (every frame still goes to `onMessage`). */
  readonly isReady?: (msg: string) => boolean;
}

export interface CloseEventInfo {
  readonly code: number;
  readonly reason: string;
  /** The socket never became ready. */
  readonly beforeReady: boolean;
}

export interface ConnectionEvents {
  /** A socket became the active one (`rotated`: it replaced a live one without a gap). */
  onOpen?: (rotated: boolean) => void;
  /** The active socket (or one that never got ready) closed. Return false to stop reconnecting. */
  onClose?: (info: CloseEventInfo) => boolean;
  /** The next socket opens in `delay` ms (`attempt`: failures in a row). */
  onRetry?: (delay: number, attempt: number) => void;
}

const OPEN = 1;
export const DEFAULT_ROTATE = Object.freeze({ min: 10 * 60_000, max: 15 * 60_000 });
/** Our own close codes (the 4000s are the application's per RFC 6455). */
const CLOSE_IDLE = 4004;
const CLOSE_ROTATED = 1000;

export class WebSocketConnection {
  /** Seed 002: "a place to put a callback on new message". */
  onMessage: (msg: string) => void = () => undefined;
  readonly events: ConnectionEvents;
  readonly #options: ConnectionOptions;
  readonly #WebSocket: WebSocketConstructor;
  readonly #backoff: Backoff;
  #keepAliveMs: number;
  #idleTimeoutMs: number;
  #running = false;
  /** The socket messages are sent on. */
  #active: WebSocketLike | undefined;
  /** A socket being opened and greeted (a reconnect, or a rotation while #active lives). */
  #pending: WebSocketLike | undefined;
  #lastIn = 0;
  #lastOut = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #rotateTimer: ReturnType<typeof setTimeout> | undefined;
  #tick: ReturnType<typeof setInterval> | undefined;

  constructor(options: ConnectionOptions, events: ConnectionEvents = {}) {
    const WebSocketClass =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketClass) {
      throw new TypeError('no WebSocket implementation: pass options.WebSocket (e.g. the ws package)');
    }
    this.#options = options;
    this.#WebSocket = WebSocketClass;
    this.events = events;
    this.#backoff = new Backoff({ full: true, ...options.backoff });
    this.#keepAliveMs = options.keepAliveMs ?? 2_000;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 5_000;
  }

  /** Seed 002: whether there is an active connection right now. */
  isConnected(): boolean {
    return this.#active !== undefined && this.#active.readyState === OPEN;
  }

  /** Seed 002: sends a string; returns what `isConnected()` returns (false: nothing was sent). */
  send(msg: string): boolean {
    const socket = this.#active;
    if (!socket || socket.readyState !== OPEN) return false;
    socket.send(msg);
    this.#lastOut = Date.now();
    return true;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#backoff.reset();
    this.#open(false);
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#rotateTimer);
    clearInterval(this.#tick);
    this.#tick = undefined;
    for (const socket of [this.#active, this.#pending])
      if (socket) this.#discard(socket, CLOSE_ROTATED, 'stop');
    this.#active = undefined;
    this.#pending = undefined;
  }

  /** The server's keep-alive and idle timeout (from its greeting answer). */
  setTimers(keepAliveMs: number, idleTimeoutMs: number): void {
    if (keepAliveMs > 0) this.#keepAliveMs = keepAliveMs;
    if (idleTimeoutMs > 0) this.#idleTimeoutMs = idleTimeoutMs;
    this.#startTick();
  }

  /** Starts a make-before-break rotation now (it also runs by itself every 10–15 min). */
  rotate(): void {
    if (!this.#running || this.#pending || !this.#active) return;
    this.#open(true);
  }

  #open(rotation: boolean): void {
    const socket = new this.#WebSocket(this.#options.url);
    this.#pending = socket;
    let ready = false;
    socket.onopen = () => {
      if (this.#pending !== socket) return;
      if (this.#options.greeting) socket.send(this.#options.greeting());
      else becomeReady();
    };
    const becomeReady = () => {
      ready = true;
      const previous = this.#active;
      this.#pending = undefined;
      this.#active = socket;
      this.#lastIn = this.#lastOut = Date.now();
      this.#backoff.reset();
      this.#startTick();
      this.#scheduleRotation();
      // Make-before-break: the new socket sends from now on; the old one is let go.
      if (previous) this.#discard(previous, CLOSE_ROTATED, 'rotated');
      this.events.onOpen?.(rotation && previous !== undefined);
    };
    socket.onmessage = (event) => {
      if (socket !== this.#active && socket !== this.#pending) return;
      const msg = typeof event.data === 'string' ? event.data : String(event.data);
      if (socket === this.#active) this.#lastIn = Date.now();
      if (!ready && socket === this.#pending && (this.#options.isReady?.(msg) ?? true)) becomeReady();
      this.onMessage(msg);
    };
    socket.onerror = () => undefined; // onclose follows with the code
    socket.onclose = (event) => this.#closed(socket, event.code, event.reason, ready, rotation);
  }

  #closed(socket: WebSocketLike, code: number, reason: string, ready: boolean, rotation: boolean): void {
    if (socket === this.#pending) {
      this.#pending = undefined;
      if (rotation && this.#active) {
        // A failed rotation leaves the working socket alone; try again a little later.
        this.#scheduleRotation(true);
        return;
      }
    } else if (socket === this.#active) {
      this.#active = undefined;
    } else {
      return; // an old socket let go by a rotation or stop()
    }
    if (!this.#running) return;
    const again = this.events.onClose?.({ code, reason, beforeReady: !ready }) ?? true;
    if (!again) {
      this.stop();
      return;
    }
    if (this.#active || this.#pending) return;
    clearTimeout(this.#retryTimer);
    const delay = this.#backoff.next();
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#running && !this.#active && !this.#pending) this.#open(false);
    }, delay);
    this.events.onRetry?.(delay, this.#backoff.attempts);
  }

  #discard(socket: WebSocketLike, code: number, reason: string): void {
    socket.onmessage = null;
    socket.onopen = null;
    socket.onclose = null;
    socket.onerror = () => undefined;
    try {
      socket.close(code, reason);
    } catch {
      // Closing a socket that never opened can throw in some implementations; it is gone either way.
    }
  }

  #scheduleRotation(soon = false): void {
    clearTimeout(this.#rotateTimer);
    const range = this.#options.rotate ?? DEFAULT_ROTATE;
    if (range === false) return;
    const delay = soon
      ? Math.min(range.min, 60_000)
      : range.min + Math.random() * Math.max(0, range.max - range.min);
    this.#rotateTimer = setTimeout(() => this.rotate(), delay);
  }

  /** One timer for keep-alives and the idle check. */
  #startTick(): void {
    clearInterval(this.#tick);
    this.#tick = setInterval(
      () => {
        const socket = this.#active;
        if (!socket || socket.readyState !== OPEN) return;
        const now = Date.now();
        if (now - this.#lastIn > this.#idleTimeoutMs) {
          // Seed 002: nothing heard for the timeout: start over on a new connection.
          this.#discard(socket, CLOSE_IDLE, 'timeout');
          this.#closed(socket, CLOSE_IDLE, 'timeout', true, false);
          return;
        }
        if (now - this.#lastOut >= this.#keepAliveMs && this.#options.keepAliveFrame !== undefined)
          this.send(this.#options.keepAliveFrame);
      },
      Math.max(50, Math.min(this.#keepAliveMs, this.#idleTimeoutMs) / 4),
    );
  }
}
