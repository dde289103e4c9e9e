/**
 * The hub harness for unit tests: the hub on the memory engine (or one given), without sockets.
 * A recording Connection stands where an adapter's connection would.
 */
import { strict as assert } from 'node:assert';
import type { TestContext } from 'node:test';
import { Hub, type HubOptions } from '../../src/core/hub.js';
import { SwitchboardError, type ErrorCode } from '../../src/core/errors.js';
import type { CloseReason } from '../../src/core/close-reasons.js';
import type { Connection, Identity } from '../../src/core/hooks.js';
import type { Batch, InboundMessage, ProtocolName, SessionInfo } from '../../src/core/types.js';

export const anonymous: Identity = { user: undefined, peer: '127.0.0.1' };
export const STRONG_ID = 'k3J9x_2mQ8vL-7rT4wZ1aB';

/** A connection as an adapter would hand it to the hub, recording what the hub does with it. */
export class Recorder implements Connection {
  readonly writes: Batch[] = [];
  readonly closes: CloseReason[] = [];
  closed = false;
  /** What write() returns: false is backpressure. */
  accept = true;
  #waiters: Array<() => void> = [];

  constructor(
    readonly protocol: ProtocolName = 'websocket',
    readonly oneShot = false,
    readonly resend = false,
    readonly eager = false,
    readonly immediate = true,
  ) {}

  write(batch: Batch): boolean {
    this.writes.push(batch);
    this.#notify();
    return this.accept;
  }

  close(reason: CloseReason): void {
    this.closes.push(reason);
    this.#notify();
  }

  /** Ids written so far, in order. */
  get ids(): number[] {
    return this.writes.flatMap((batch) => batch.deliveries.map((d) => d.id));
  }

  get data(): unknown[] {
    return this.writes.flatMap((batch) => batch.deliveries.map((d) => JSON.parse(d.message.json) as unknown));
  }

  /** Resolves once `done()` holds, checked after every write and close. */
  async until(done: () => boolean, what: string): Promise<void> {
    for (let turns = 0; !done(); turns++) {
      if (turns > 1_000) assert.fail(`never: ${what}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        // A wake-up with no write (a flush that took nothing) must not hang the test.
        setTimeout(resolve, 5);
      });
    }
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

export function newHub(t: TestContext, options: HubOptions = {}): Hub {
  const hub = new Hub({ ...options, settings: { batchWindowMs: 0, ...options.settings } });
  t.after(() => hub.close());
  return hub;
}

export async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SwitchboardError, String(error));
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });
}

export function throwsWith(run: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof SwitchboardError, String(error));
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });
}

export const message = (id: string, extra: Partial<InboundMessage> = {}): InboundMessage => ({
  id,
  data: id,
  ...extra,
});

export async function deliver(
  hub: Hub,
  session: SessionInfo,
  messages: InboundMessage[],
  acks: number[] = [],
) {
  const prepared = await hub.prepare(session, messages);
  assert.deepEqual(prepared.refused, []);
  return hub.receive(session, prepared.messages, acks);
}
