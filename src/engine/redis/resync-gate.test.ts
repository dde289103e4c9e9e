import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ResyncGate } from './resync-gate.js';
import type { SwitchboardError } from '../../core/errors.js';

/** A check the test answers by hand: each call waits until the test resolves or rejects it. */
function manualCheck() {
  const calls: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  const check = () =>
    new Promise<void>((resolve, reject) => {
      calls.push({ resolve, reject });
    });
  return { calls, check };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test('commands wait at the gate until a check has passed', async () => {
  const { calls, check } = manualCheck();
  const errors: SwitchboardError[] = [];
  const gate = new ResyncGate(
    check,
    () => true,
    (e) => errors.push(e),
  );
  const passed = gate.request();
  assert.ok(gate.pending(), 'a command must wait while the check runs');
  await settle();
  assert.equal(calls.length, 1);
  calls[0]?.resolve();
  await passed;
  assert.equal(gate.pending(), undefined, 'after a passed check commands go');
  assert.deepEqual(errors, []);
});

test('asked again while a check runs, it checks once more after it, not twice', async () => {
  const { calls, check } = manualCheck();
  const gate = new ResyncGate(
    check,
    () => true,
    () => undefined,
  );
  const first = gate.request();
  await settle();
  const second = gate.request();
  const third = gate.request();
  assert.equal(second, first, 'one drain for all requests made while it runs');
  assert.equal(third, first);
  calls[0]?.resolve();
  await settle();
  assert.equal(calls.length, 2, 'one more check for the requests made meanwhile');
  assert.ok(gate.pending(), 'still held until the second check passes');
  calls[1]?.resolve();
  await first;
  assert.equal(calls.length, 2);
  assert.equal(gate.pending(), undefined);
});

test('a failed check fails the waiting commands once with SB_ERR_ENGINE_UNAVAILABLE, then retries while connected', async () => {
  const { calls, check } = manualCheck();
  const errors: SwitchboardError[] = [];
  let connected = true;
  const gate = new ResyncGate(
    check,
    () => connected,
    (e) => errors.push(e),
  );
  const waiting = gate.request();
  await settle();
  calls[0]?.reject(new Error('LOADING Redis is loading the dataset in memory'));
  await assert.rejects(waiting, (error: SwitchboardError) => error.code === 'SB_ERR_ENGINE_UNAVAILABLE');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]?.code, 'SB_ERR_ENGINE_UNAVAILABLE');
  // Connected: the next command starts a new check.
  const retry = gate.pending();
  assert.ok(retry);
  await settle();
  assert.equal(calls.length, 2);
  calls[1]?.resolve();
  await retry;
  assert.equal(gate.pending(), undefined);
  // A later failure while disconnected: commands go (and fail fast on the closed connection).
  const again = gate.request();
  await settle();
  calls[2]?.reject(new Error('down'));
  await assert.rejects(again);
  connected = false;
  assert.equal(gate.pending(), undefined, 'disconnected: no new check, no wait');
  assert.equal(calls.length, 3);
});

test('stopped: a request made before stop is not run, and nothing is held after', async () => {
  const { calls, check } = manualCheck();
  const gate = new ResyncGate(
    check,
    () => true,
    () => undefined,
  );
  const running = gate.request();
  await settle();
  void gate.request();
  gate.stop();
  calls[0]?.resolve();
  await running;
  assert.equal(calls.length, 1, 'the request made before stop is not run after it');
  assert.equal(gate.pending(), undefined, 'a stopped gate holds nothing');
  assert.equal(calls.length, 1, 'and starts no check');
});
