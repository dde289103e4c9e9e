/**
 * The client's outgoing messages, each from `send()` to its end (seed 001's client-message states):
 * - `unsent`: queued, not yet on the wire (offline, or waiting for a request);
 * - `sent`: on the wire, waiting for the server's ack;
 * - `retrying`: no ack within `ackTimeout`, or its request failed: it stays queued with its id and
 *   goes again with every reconnect (the server drops a repeated id, so it is processed once);
 * - `delivered`: acked; the promise resolves;
 * - `dropped`: given up; the promise rejects with why: no ack within `deliveryTimeout`
 *   (`SB_ERR_DELIVERY_TIMEOUT`), the session it was sent in ended (`SB_ERR_SESSION_LOST`: it may or
 *   may not have been processed), the server refused it, or the client was stopped.
 * The outbox is bounded: past `maxPending` messages or `maxPendingBytes` of their JSON, a send is
 * refused at once with `SB_ERR_SEND_BUFFER_FULL`. Internal messages (subscribe, unsubscribe) are
 * not counted, so a full outbox never stops a new session from getting its subscriptions.
 * @module
 */
import type { OutgoingFrame } from './transport.js';
import { CLIENT_ERROR_CODES, ClientError } from './errors.js';

export type OutgoingState = 'unsent' | 'sent' | 'retrying' | 'delivered' | 'dropped';

export interface OutboxSettings {
  readonly ackTimeout: number;
  readonly deliveryTimeout: number;
  readonly maxPending: number;
  readonly maxPendingBytes: number;
}

export const DEFAULT_OUTBOX: OutboxSettings = Object.freeze({
  ackTimeout: 1_000,
  deliveryTimeout: 5 * 60_000,
  maxPending: 1_000,
  maxPendingBytes: 1024 * 1024,
});

export interface OutboxEvents {
  /** A record of the application's changed state (internal ones are not reported). */
  changed(record: OutgoingRecord): void;
  /** A record was given up by the outbox itself: the transport must forget it. */
  givenUp(id: string): void;
}

export interface OutgoingRecord {
  readonly id: string;
  /** As handed to the transport; kept to hand it to the next one after a fallback. */
  readonly frame: OutgoingFrame;
  /** Internal (subscribe/unsubscribe): not listed by messages(), not counted by the bounds. */
  readonly meta: boolean;
  /** UTF-8 bytes of its data's JSON (0 for internal ones). */
  readonly bytes: number;
  state: OutgoingState;
  /** When it entered `state` (ms since epoch). */
  at: number;
  /** Requests or frames that carried it so far. */
  attempts: number;
  /**
   * Sent in a session that ended: it is not sent again (the old session may have processed it),
   * and is dropped unless the answer at hand acks it.
   */
  orphaned: boolean;
  /** It went in a request that failed without an answer: the server may have processed it. */
  exposed: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly resolve: () => void;
  readonly reject: (error: ClientError) => void;
}

/** Finished messages kept for messages(); older ones are forgotten. */
const HISTORY = 1_000;

export class Outbox {
  readonly #settings: OutboxSettings;
  readonly #events: OutboxEvents;
  readonly #records = new Map<string, OutgoingRecord>();
  readonly #finished: string[] = [];
  #count = 0;
  #bytes = 0;

  constructor(settings: OutboxSettings, events: OutboxEvents) {
    this.#settings = settings;
    this.#events = events;
  }

  /** Unfinished messages of the application, and the bytes of their JSON. */
  get size(): { readonly messages: number; readonly bytes: number } {
    return { messages: this.#count, bytes: this.#bytes };
  }

  /**
   * Adds a message; the promise settles when it is delivered or dropped. Refused at once (the
   * promise rejects, nothing is queued) when the application's messages are at the bounds.
   */
  add(frame: OutgoingFrame, meta: boolean, bytes: number): Promise<void> {
    if (!meta) {
      const { maxPending, maxPendingBytes } = this.#settings;
      if (this.#count >= maxPending || this.#bytes + bytes > maxPendingBytes) {
        return Promise.reject(
          new ClientError(
            CLIENT_ERROR_CODES.SEND_BUFFER_FULL,
            `${this.#count} messages (${this.#bytes} bytes) wait for their acks, at most ${maxPending} (${maxPendingBytes} bytes)`,
          ),
        );
      }
    }
    return new Promise<void>((resolve, reject) => {
      const record: OutgoingRecord = {
        id: frame.id,
        frame,
        meta,
        bytes: meta ? 0 : bytes,
        state: 'unsent',
        at: Date.now(),
        attempts: 0,
        orphaned: false,
        exposed: false,
        timer: undefined,
        resolve,
        reject,
      };
      this.#records.set(record.id, record);
      if (!meta) {
        this.#count++;
        this.#bytes += record.bytes;
      }
      this.#changed(record);
      const { ackTimeout, deliveryTimeout } = this.#settings;
      record.timer = setTimeout(
        () => {
          // seed 000: "If it doesn't [get an ack within ackTimeout], the message is considered
          // undelivered": it goes again (with the same id) until the delivery deadline.
          if (ackTimeout < deliveryTimeout) {
            if (record.state === 'sent') this.#set(record, 'retrying');
            record.timer = setTimeout(() => this.#expire(record), deliveryTimeout - ackTimeout);
          } else {
            this.#expire(record);
          }
        },
        Math.min(ackTimeout, deliveryTimeout),
      );
    });
  }

  /** An unfinished message (orphaned ones included: an ack may still settle them). */
  unfinished(id: string): OutgoingRecord | undefined {
    const record = this.#records.get(id);
    return record && !isFinished(record.state) ? record : undefined;
  }

  /** Whether a message still goes on the wire: unfinished and not orphaned. */
  live(id: string): boolean {
    const record = this.unfinished(id);
    return record !== undefined && !record.orphaned;
  }

  /** Every message that still goes on the wire, oldest first. */
  *lives(): IterableIterator<OutgoingRecord> {
    for (const record of this.#records.values()) if (this.live(record.id)) yield record;
  }

  /** These went on the wire (one more attempt each). */
  sending(ids: readonly string[]): void {
    for (const id of ids) {
      const record = this.unfinished(id);
      if (!record) continue;
      record.attempts++;
      this.#set(record, record.attempts > 1 ? 'retrying' : 'sent');
    }
  }

  /** These went in a request that failed without an answer, and wait to go again. */
  retrying(ids: readonly string[]): void {
    for (const id of ids) {
      const record = this.unfinished(id);
      if (!record) continue;
      record.exposed = true;
      if (record.state !== 'retrying') this.#set(record, 'retrying');
    }
  }

  /**
   * Queued again for later: the server said "not now", or it did not process the message because
   * the session it was meant for had ended (then it goes to the new one: it cannot be a repeat).
   */
  again(record: OutgoingRecord): void {
    record.orphaned = false;
    this.#set(record, 'retrying');
  }

  /** The server acked it. */
  delivered(id: string): void {
    const record = this.unfinished(id);
    if (record) this.#finish(record, 'delivered');
  }

  /** Gives it up with this error (its promise rejects). */
  drop(record: OutgoingRecord, error: ClientError): void {
    this.#finish(record, 'dropped', error);
  }

  /** Gives up every unfinished message; returns their ids. */
  dropAll(error: ClientError): string[] {
    const ids: string[] = [];
    for (const record of [...this.#records.values()]) {
      if (isFinished(record.state)) continue;
      ids.push(record.id);
      this.#finish(record, 'dropped', error);
    }
    return ids;
  }

  /**
   * The session ended and a new one took its place: the application's messages that were on the
   * wire are orphaned (the old session may have processed them, the new one would not recognise
   * them as repeats). Internal ones go on: subscribing again is harmless. Returns their ids.
   */
  orphanSent(): string[] {
    const ids: string[] = [];
    for (const record of this.#records.values()) {
      if (record.meta || record.attempts === 0 || isFinished(record.state)) continue;
      record.orphaned = true;
      ids.push(record.id);
    }
    return ids;
  }

  /** Orphaned messages that no ack settled are dropped with SB_ERR_SESSION_LOST. */
  dropOrphans(): void {
    for (const record of [...this.#records.values()]) {
      if (record.orphaned && !isFinished(record.state))
        this.#finish(record, 'dropped', sessionLost(record.id));
    }
  }

  /** The application's messages: every unfinished one and the last finished ones. */
  *records(): IterableIterator<OutgoingRecord> {
    for (const record of this.#records.values()) if (!record.meta) yield record;
  }

  #expire(record: OutgoingRecord): void {
    record.timer = undefined;
    if (isFinished(record.state)) return;
    this.#events.givenUp(record.id);
    this.#finish(
      record,
      'dropped',
      new ClientError(
        CLIENT_ERROR_CODES.DELIVERY_TIMEOUT,
        `no ack for message ${record.id} within ${this.#settings.deliveryTimeout} ms`,
      ),
    );
  }

  #set(record: OutgoingRecord, state: OutgoingState): void {
    record.state = state;
    record.at = Date.now();
    this.#changed(record);
  }

  #changed(record: OutgoingRecord): void {
    if (!record.meta) this.#events.changed(record);
  }

  #finish(record: OutgoingRecord, state: 'delivered' | 'dropped', error?: ClientError): void {
    if (isFinished(record.state)) return;
    clearTimeout(record.timer);
    record.timer = undefined;
    if (record.meta) {
      this.#records.delete(record.id);
    } else {
      this.#count--;
      this.#bytes -= record.bytes;
      this.#finished.push(record.id);
      while (this.#finished.length > HISTORY) this.#records.delete(this.#finished.shift() as string);
    }
    this.#set(record, state);
    if (error) record.reject(error);
    else record.resolve();
  }
}

export function sessionLost(id: string): ClientError {
  return new ClientError(
    CLIENT_ERROR_CODES.SESSION_LOST,
    `message ${id} was sent in a session that ended before acking it: it may or may not have been delivered`,
  );
}

function isFinished(state: OutgoingState): boolean {
  return state === 'delivered' || state === 'dropped';
}
