/**
 * LPIO long polling (seed 000, spec v0.2.2; docs/protocols/lpio.md): one POST at a time carries
 * our messages and acks, and its held response carries the server's.
 *
 * Seed 000's client list, as done here:
 * 1. Every non-ack message from the server is acked, in the next request.
 * 2. One request is in flight at a time, and the server holds it until it has something.
 * 3. New messages abort a held request, but at most once per batch window: the first message after a
 *    quiet window goes at once, later ones gather until the window since the last send has passed
 *    (urgent ones always go at once). A request that carries messages is never aborted: the server
 *    answers it at once with their acks, and messages arriving meanwhile ride on the next request.
 * 4. After a success the next request goes out at once; after a failure, with backoff, and it
 *    carries the failed request's unacked messages again with the same ids (the server drops
 *    duplicates, so each is processed once).
 * 5. `responseTimeout` aborts a request and counts as a failure; 401 and 403 stop the client.
 * 6. A request that fails for a network reason (no answer, a timeout, a server shutting down, a
 *    proxy's 502/503/504) reports the client disconnected at once; the next success connected.
 *    A 429 or 503 with `Retry-After` waits at least that long (at most a minute).
 * @module
 */
import { Backoff } from '../backoff.js';
import type {
  IncomingFrame,
  OutgoingFrame,
  Transport,
  TransportHost,
  TransportSettings,
} from '../transport.js';
import { closeInfoOf } from '../close-info.js';
import { ACKS_PENDING, CLIENT_ERROR_CODES, ClientError } from '../errors.js';
import { DEFAULT_LIMITS, limitsOf, takeFitting, utf8Length, type ServerLimits } from '../limits.js';

/** Response states (spec v0.2.2). */
const STATE = { RECONNECT: 0, NEW_MESSAGES: 1, ERROR: 2, SERVER_DESTROYED: 3 } as const;
/** Bytes of a request body beyond its data messages: the envelope, `seq`, `describe`, auth fields. */
const BODY_OVERHEAD = 512;
/** The longest `Retry-After` followed; a longer one is taken as this (the backoff goes on growing). */
const MAX_RETRY_AFTER_MS = 60_000;
/** Failures that mean the server cannot be reached right now, rather than that it refused us. */
const NETWORK_FAILURES: ReadonlySet<string> = new Set([
  CLIENT_ERROR_CODES.NETWORK,
  CLIENT_ERROR_CODES.RESPONSE_TIMEOUT,
  CLIENT_ERROR_CODES.SERVER_DESTROYED,
]);
const GATEWAY_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

interface Flight {
  readonly controller: AbortController;
  readonly frames: readonly OutgoingFrame[];
  readonly acks: readonly string[];
  /** Only a held poll may be aborted for new messages: no messages, and not the id request. */
  readonly abortable: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  timedOut: boolean;
  /** Abandoned by us (batch abort, stop): its outcome is ignored. */
  cancelled: boolean;
}

interface LpioResponseBody {
  state?: unknown;
  messages?: unknown;
  set?: { id?: unknown; address?: unknown };
  error?: unknown;
  code?: unknown;
  close?: { code?: unknown; reason?: unknown; reconnect?: unknown };
  session?: { address?: unknown };
  limits?: unknown;
  errors?: unknown;
  message?: unknown;
}

export class LpioTransport implements Transport {
  readonly name = 'lpio' as const;
  readonly #settings: TransportSettings;
  /** Names this transport in its requests' `seq` (browsers and Node both have Math.random). */
  readonly #instance = Math.random().toString(36).slice(2, 12) + Date.now().toString(36);
  #requests = 0;
  readonly #host: TransportHost;
  readonly #backoff: Backoff;
  /** Data messages waiting for a request, oldest first. */
  #buffer: OutgoingFrame[] = [];
  /** Server message ids to ack in the next request. */
  #acks: string[] = [];
  #running = false;
  #flight: Flight | undefined;
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** When a request last carried messages (ms, `Date.now()`), for the batch window. */
  #lastSendAt = -Infinity;
  #limits: ServerLimits = DEFAULT_LIMITS;
  /** Wire size of each buffered message, measured once. */
  readonly #sizes = new WeakMap<OutgoingFrame, number>();

  constructor(settings: TransportSettings, host: TransportHost) {
    this.#settings = settings;
    this.#host = host;
    this.#backoff = new Backoff(settings.backoff);
  }

  /** What the server accepts per request (announced with a new session; its defaults until then). */
  get limits(): ServerLimits {
    return this.#limits;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#backoff.reset();
    this.#pump();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#batchTimer);
    clearTimeout(this.#retryTimer);
    this.#batchTimer = undefined;
    this.#retryTimer = undefined;
    const flight = this.#flight;
    if (flight) this.#abandon(flight);
  }

  push(frame: OutgoingFrame): void {
    this.#buffer.push(frame);
    this.#pump();
  }

  requeue(frames: readonly OutgoingFrame[]): void {
    this.#buffer = [...frames, ...this.#buffer];
    this.#pump();
  }

  cancel(id: string): void {
    this.#buffer = this.#buffer.filter((f) => f.id !== id);
  }

  /** Sends what is due, or arranges for it to be sent. */
  #pump(): void {
    if (!this.#running || this.#retryTimer !== undefined) return;
    const flight = this.#flight;
    if (!flight) {
      this.#request();
      return;
    }
    if (!flight.abortable || this.#buffer.length === 0) return;
    const wait = this.#lastSendAt + this.#settings.batchWindow - Date.now();
    if (wait <= 0 || this.#buffer.some((f) => f.urgent === true)) {
      this.#abortForMessages(flight);
      return;
    }
    this.#batchTimer ??= setTimeout(() => {
      this.#batchTimer = undefined;
      if (this.#flight === flight && this.#running) this.#abortForMessages(flight);
    }, wait);
  }

  /** seed 000: "Client aborts currently waiting request to send new messages." */
  #abortForMessages(flight: Flight): void {
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    this.#abandon(flight);
    this.#request();
  }

  /** Aborts a request whose outcome no longer matters. Its acks go out again (the abort may beat them). */
  #abandon(flight: Flight): void {
    flight.cancelled = true;
    clearTimeout(flight.timer);
    flight.controller.abort();
    if (this.#flight === flight) this.#flight = undefined;
    this.#acks = [...flight.acks, ...this.#acks];
    this.#rebuffer(flight.frames);
  }

  /** UTF-8 bytes of a message as it goes in a request body. */
  #size(frame: OutgoingFrame): number {
    let size = this.#sizes.get(frame);
    if (size === undefined) {
      size = utf8Length(JSON.stringify({ type: 'data', ...frame }));
      this.#sizes.set(frame, size);
    }
    return size;
  }

  #rebuffer(frames: readonly OutgoingFrame[]): void {
    const live = frames.filter((f) => this.#host.pending(f.id));
    if (live.length === 0) return;
    this.#buffer = [...live, ...this.#buffer];
    this.#host.retrying(live.map((f) => f.id));
  }

  #request(): void {
    const id = this.#host.clientId();
    const frames: OutgoingFrame[] = [];
    let acks: string[] = [];
    // Without an id the server answers at once with one and ignores the messages (seed 000).
    if (id !== undefined) {
      // Acks are messages too, as the server counts them: at most the limit, the rest next time;
      // and with messages waiting, room for at least one of them, or the request would carry
      // only acks and be held (a request with a message is answered at once).
      const waiting = this.#buffer.length > 0 ? 1 : 0;
      acks = this.#acks.slice(0, Math.max(0, this.#limits.messages - waiting));
      this.#acks = this.#acks.slice(acks.length);
      const ackBytes = acks.reduce((sum, ack) => sum + utf8Length(ack) + 24, 0);
      const live: OutgoingFrame[] = [];
      for (const frame of this.#buffer) {
        if (!this.#host.pending(frame.id)) continue;
        // A message that no request can carry is refused now: sent, it would fail the whole body (413).
        if (this.#size(frame) + BODY_OVERHEAD > this.#limits.bytes) {
          this.#host.rejected(
            [frame.id],
            new ClientError(
              'SB_ERR_PAYLOAD_TOO_LARGE',
              `message ${frame.id} does not fit in a request of ${this.#limits.bytes} bytes`,
            ),
          );
          continue;
        }
        live.push(frame);
      }
      const room = { ...this.#limits, messages: this.#limits.messages - acks.length };
      const n = takeFitting(live, (f) => this.#size(f), room, BODY_OVERHEAD + ackBytes);
      frames.push(...live.slice(0, n));
      this.#buffer = live.slice(n);
    }
    const flight: Flight = {
      controller: new AbortController(),
      frames,
      acks,
      abortable: id !== undefined && frames.length === 0,
      timer: undefined,
      timedOut: false,
      cancelled: false,
    };
    this.#flight = flight;
    if (frames.length > 0) {
      this.#lastSendAt = Date.now();
      this.#host.sending(frames.map((f) => f.id));
    }
    flight.timer = setTimeout(() => {
      flight.timedOut = true;
      flight.controller.abort();
    }, this.#settings.responseTimeout);
    void this.#exchange(flight, id);
  }

  async #exchange(flight: Flight, id: string | undefined): Promise<void> {
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const auth = this.#host.auth();
      const messages = [
        ...flight.acks.map((ack) => ({ type: 'ack', id: ack })),
        ...flight.frames.map((f) => ({ type: 'data', ...f })),
      ];
      const response = await fetch(this.#settings.url, {
        method: 'POST',
        headers: {
          ...auth.headers,
          Accept: 'application/json',
          'Content-Type': 'application/json;charset=UTF-8',
          ...(id !== undefined && { 'LPIO-Client': id }),
        },
        // With an id but no address (a static id resuming an existing session), ask for it.
        body: JSON.stringify({
          ...auth.body,
          ...(id !== undefined && this.#host.address() === undefined && { describe: true }),
          // Our order of requests: behind a load balancer a poll we abandoned may reach its node
          // after our next request reached another; the server then keeps the newer one.
          seq: `${this.#instance}.${++this.#requests}`,
          messages,
        }),
        signal: flight.controller.signal,
      });
      status = response.status;
      retryAfter = response.headers.get('retry-after');
      text = await response.text();
    } catch (error) {
      if (flight.cancelled) return;
      this.#fail(
        flight,
        flight.timedOut
          ? new ClientError(
              CLIENT_ERROR_CODES.RESPONSE_TIMEOUT,
              `no response within ${this.#settings.responseTimeout} ms`,
            )
          : new ClientError(CLIENT_ERROR_CODES.NETWORK, `request failed: ${describe(error)}`, {
              cause: error,
            }),
      );
      return;
    }
    if (flight.cancelled) return;
    clearTimeout(flight.timer);
    if (status === 401 || status === 403) {
      this.#end(flight);
      this.#running = false;
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      this.#acks = [...flight.acks, ...this.#acks];
      const code = status === 401 ? CLIENT_ERROR_CODES.UNAUTHORIZED : CLIENT_ERROR_CODES.FORBIDDEN;
      const detail = errorBody(text);
      this.#host.fatal(new ClientError(code, detail?.message ?? `the server answered ${status}`, { status }));
      return;
    }
    if (status !== 200) {
      const detail = errorBody(text);
      const seconds = retryAfter === null ? NaN : Number(retryAfter);
      this.#fail(
        flight,
        new ClientError(
          detail?.code ?? `SB_ERR_HTTP_${status}`,
          detail?.message ?? `the server answered ${status}`,
          { status },
        ),
        (status === 429 || status === 503) && seconds >= 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : 0,
      );
      return;
    }
    let body: LpioResponseBody;
    try {
      body = JSON.parse(text) as LpioResponseBody;
      if (typeof body !== 'object' || body === null) throw new TypeError('not an object');
    } catch (error) {
      this.#fail(
        flight,
        new ClientError(
          CLIENT_ERROR_CODES.BAD_RESPONSE,
          `the response is not LPIO JSON: ${describe(error)}`,
          {
            cause: error,
            status,
          },
        ),
      );
      return;
    }
    this.#handle(flight, body);
  }

  #handle(flight: Flight, body: LpioResponseBody): void {
    const state = body.state;
    if (state === STATE.ERROR) {
      // Rejected as a whole, nothing processed: the messages are refused, the acks go again.
      this.#end(flight);
      this.#acks = [...flight.acks, ...this.#acks];
      const error = new ClientError(
        typeof body.code === 'string' ? body.code : 'SB_ERR_BAD_REQUEST',
        typeof body.message === 'string'
          ? body.message
          : typeof body.error === 'string'
            ? body.error
            : 'the server rejected the request',
        { status: 200 },
      );
      // Reported once: through the refused messages' promises, or as an error when it had none.
      const refused = flight.frames.map((f) => f.id);
      if (refused.length > 0) this.#host.rejected(refused, error);
      else this.#host.error(error);
      this.#retryLater(error.message);
      return;
    }
    if (state === STATE.SERVER_DESTROYED) {
      this.#fail(flight, new ClientError(CLIENT_ERROR_CODES.SERVER_DESTROYED, 'the server is shutting down'));
      return;
    }
    if (state !== STATE.RECONNECT && state !== STATE.NEW_MESSAGES) {
      this.#fail(
        flight,
        new ClientError(CLIENT_ERROR_CODES.BAD_RESPONSE, `unknown response state ${JSON.stringify(state)}`),
      );
      return;
    }
    this.#end(flight);
    this.#backoff.reset();
    const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];

    const close = closeInfoOf(body.close);
    if (close) {
      this.#host.closed(close);
      if (!this.#running) return;
    }

    this.#limits = limitsOf(body.limits, this.#limits);
    // A new id (`set.id`, or the seed's `option` message) or a (re)opened session (`set.address`).
    const set: { id?: string; address?: string } = {};
    if (typeof body.set?.id === 'string' && body.set.id !== '') set.id = body.set.id;
    if (typeof body.set?.address === 'string' && body.set.address !== '') set.address = body.set.address;
    if (set.id === undefined) {
      for (const m of messages) {
        const o = m as Record<string, unknown>;
        if (o?.type === 'option' && o.id === 'client' && typeof o.data === 'string') set.id = o.data;
      }
    }
    if (
      set.address === undefined &&
      typeof body.session?.address === 'string' &&
      body.session.address !== ''
    ) {
      this.#host.described(body.session.address);
    }
    if (set.id !== undefined || set.address !== undefined) {
      // Old acks name ids of the session that ended; in the new one they would ack the wrong messages.
      if ((set.id !== undefined && set.id !== this.#host.clientId()) || set.address !== undefined)
        this.#acks = [];
      this.#host.session(set);
      if (!this.#running) return;
    }

    // Messages refused one by one (the others of the request were processed and are acked below).
    // After the session: a request that named an ended session has its messages refused, and the
    // client needs to know of the new session to tell which of them may go to it.
    // Those refused for "not now" go again together, in their order (see ACKS_PENDING).
    if (Array.isArray(body.errors)) {
      const later: string[] = [];
      for (const entry of body.errors as unknown[]) {
        const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
        if (typeof e.id !== 'string' || !flight.frames.some((f) => f.id === e.id)) continue;
        const error = new ClientError(
          typeof e.code === 'string' ? e.code : 'SB_ERR_BAD_MESSAGE',
          typeof e.message === 'string' ? e.message : 'the server refused the message',
          { status: 200 },
        );
        if (error.code === ACKS_PENDING) {
          later.push(e.id);
          continue;
        }
        // Its promise rejects with the error: reported there, not as an 'error' event too.
        this.#host.rejected([e.id], error);
        if (!this.#running) return;
      }
      if (later.length > 0) {
        this.#host.rejected(later, new ClientError(ACKS_PENDING, 'sent again after the acks'));
        if (!this.#running) return;
      }
    }

    // A held poll that only says the session ended is not a resume: the next request opens the
    // session that replaces it, and that one is the success (announced with `previous`).
    if (close === undefined || set.address !== undefined) {
      this.#host.success();
      if (!this.#running) return;
    }

    for (const m of messages) {
      if (typeof m !== 'object' || m === null) continue;
      const o = m as Record<string, unknown>;
      if (typeof o.id !== 'string') continue;
      if (o.type === 'ack') {
        this.#host.ack(o.id);
        continue;
      }
      // seed 000: "Client always sends an ack in response when it receives messages of type other than ack."
      this.#acks.push(o.id);
      if (o.type === 'data') {
        const frame: IncomingFrame = {
          id: o.id,
          data: o.data,
          ...(typeof o.channel === 'string' && { channel: o.channel }),
          ...(typeof o.sender === 'string' && { sender: o.sender }),
        };
        this.#host.message(frame);
      }
      if (!this.#running) return;
    }
    // seed 000: "After a successfully finished request client creates another one with new messages."
    this.#pump();
  }

  /** The request is over: forget it. */
  #end(flight: Flight): void {
    clearTimeout(flight.timer);
    if (this.#flight === flight) this.#flight = undefined;
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
  }

  /** A failed request: its messages and acks wait for the retry, at least `atLeast` ms away. */
  #fail(flight: Flight, error: ClientError, atLeast = 0): void {
    this.#end(flight);
    this.#acks = [...flight.acks, ...this.#acks];
    this.#rebuffer(flight.frames);
    this.#host.error(error);
    if (!this.#running) return;
    const network =
      NETWORK_FAILURES.has(error.code) || (error.status !== undefined && GATEWAY_STATUSES.has(error.status));
    if (network) this.#host.interrupted(error.message);
    this.#retryLater(error.message, atLeast);
  }

  #retryLater(reason: string, atLeast = 0): void {
    if (!this.#running) return;
    const delay = Math.max(this.#backoff.next(), atLeast);
    // seed 000: "Client is disconnected when backoff duration reached the max value." It keeps
    // trying. (A network failure said so already.)
    if (this.#backoff.reachedMax) this.#host.interrupted(reason);
    if (!this.#running) return;
    this.#host.retryIn(delay, this.#backoff.attempts);
    if (!this.#running) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pump();
    }, delay);
  }
}

function errorBody(text: string): { code?: string; message?: string } | undefined {
  try {
    const body = JSON.parse(text) as { error?: unknown };
    const error = body.error;
    if (typeof error === 'string') return { message: error };
    if (typeof error === 'object' && error !== null) {
      const e = error as { code?: unknown; message?: unknown };
      return {
        ...(typeof e.code === 'string' && { code: e.code }),
        ...(typeof e.message === 'string' && { message: e.message }),
      };
    }
  } catch {
    // Not JSON: the status says enough.
  }
  return undefined;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}
