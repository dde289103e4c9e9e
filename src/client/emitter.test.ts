import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Emitter } from './emitter.js';

interface Events {
  tick: [n: number];
  other: [];
}

test('handlers run once each, in the order added; off removes one; counts follow', () => {
  const emitter = new Emitter<Events>();
  const calls: string[] = [];
  const first = (n: number) => calls.push(`first ${n}`);
  const second = (n: number) => calls.push(`second ${n}`);
  assert.equal(emitter.on('tick', first).on('tick', second).on('tick', first), emitter);
  assert.equal(emitter.listenerCount('tick'), 2);
  assert.equal(emitter.listenerCount('other'), 0);
  emitter.emit('tick', 1);
  emitter.emit('other'); // no handlers: nothing happens
  assert.equal(emitter.off('tick', first), emitter);
  emitter.off('other', () => {}); // an event never listened to
  emitter.emit('tick', 2);
  assert.deepEqual(calls, ['first 1', 'second 1', 'second 2']);
  assert.equal(emitter.listenerCount('tick'), 1);
});

test('a throwing handler does not stop the others; its error goes to onHandlerError with the event', () => {
  const errors: Array<[unknown, string]> = [];
  const emitter = new Emitter<Events>((error, event) => errors.push([error, event]));
  const boom = new Error('boom');
  const seen: number[] = [];
  emitter.on('tick', () => {
    throw boom;
  });
  emitter.on('tick', (n) => seen.push(n));
  emitter.emit('tick', 7);
  assert.deepEqual(seen, [7]);
  assert.deepEqual(errors, [[boom, 'tick']]);
  // Without onHandlerError the error is swallowed, and the next handler still runs.
  const quiet = new Emitter<Events>();
  quiet.on('tick', () => {
    throw boom;
  });
  quiet.on('tick', (n) => seen.push(n));
  quiet.emit('tick', 8);
  assert.deepEqual(seen, [7, 8]);
});

test('handlers added during an emit wait for the next one; removed ones still run this time', () => {
  const emitter = new Emitter<Events>();
  const calls: string[] = [];
  const late = () => calls.push('late');
  const removed = () => calls.push('removed');
  emitter.on('tick', () => {
    calls.push('adder');
    emitter.on('tick', late);
    emitter.off('tick', removed);
  });
  emitter.on('tick', removed);
  emitter.emit('tick', 1);
  assert.deepEqual(calls, ['adder', 'removed']);
  emitter.emit('tick', 2);
  assert.deepEqual(calls, ['adder', 'removed', 'adder', 'late']);
});
