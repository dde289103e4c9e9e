import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { StateListeners } from './message-states.js';
import type { MessageId, MessageState } from '../../core/types.js';

type Heard = Array<[MessageState, number, MessageId | undefined]>;

function listener(): {
  heard: Heard;
  listen: (state: MessageState, at: number, id: MessageId | undefined) => void;
} {
  const heard: Heard = [];
  return { heard, listen: (state, at, id) => heard.push([state, at, id]) };
}

test('origins are unique per node, and states reach the listener until delivered', () => {
  const listeners = new StateListeners('node-a', 10);
  const one = listener();
  const origin = listeners.add(one.listen);
  assert.match(origin, /^node-a:/);
  assert.notEqual(listeners.add(listener().listen), origin);
  listeners.state(origin, 'sent', 1, 5);
  listeners.state(origin, 'delivered', 2, 5);
  listeners.state(origin, 'sent', 3, 5);
  assert.deepEqual(one.heard, [
    ['sent', 1, 5],
    ['delivered', 2, 5],
  ]);
  listeners.state('node-a:unknown', 'sent', 4, 1);
});

test('dropped is final too', () => {
  const listeners = new StateListeners('n', 10);
  const one = listener();
  const origin = listeners.add(one.listen);
  listeners.state(origin, 'retrying', 1, 2);
  listeners.state(origin, 'dropped', 2, 2);
  listeners.state(origin, 'delivered', 3, 2);
  assert.deepEqual(one.heard, [
    ['retrying', 1, 2],
    ['dropped', 2, 2],
  ]);
});

test('bounded: the listener past the newest max is forgotten, exactly max are kept', () => {
  const listeners = new StateListeners('n', 2);
  const [a, b, c] = [listener(), listener(), listener()];
  const origins = [listeners.add(a.listen), listeners.add(b.listen)];
  listeners.state(origins[0] as string, 'sent', 1, 1);
  assert.equal(a.heard.length, 1, 'two fit');
  origins.push(listeners.add(c.listen));
  for (const origin of origins) listeners.state(origin, 'sent', 2, 1);
  assert.equal(a.heard.length, 1, 'the oldest was forgotten');
  assert.equal(b.heard.length, 1);
  assert.equal(c.heard.length, 1);
});

test('sentTo an epoch the node already left drops the message, once', () => {
  const listeners = new StateListeners('n', 10);
  const [kept, lost] = [listener(), listener()];
  const keptOrigin = listeners.add(kept.listen);
  const lostOrigin = listeners.add(lost.listen);
  listeners.sentTo([keptOrigin], 'e1', 'e1', 10);
  listeners.sentTo([lostOrigin, 'n:gone'], 'e0', 'e1', 11);
  assert.deepEqual(kept.heard, []);
  assert.deepEqual(lost.heard, [['dropped', 11, undefined]]);
  listeners.state(lostOrigin, 'delivered', 12, 3);
  assert.equal(lost.heard.length, 1);
  listeners.state(keptOrigin, 'delivered', 13, 4);
  assert.deepEqual(kept.heard, [['delivered', 13, 4]]);
});

test('dropOutside drops what went to another epoch and keeps what is still in flight', () => {
  const listeners = new StateListeners('n', 10);
  const [old, current, inFlight] = [listener(), listener(), listener()];
  const oldOrigin = listeners.add(old.listen);
  const currentOrigin = listeners.add(current.listen);
  const inFlightOrigin = listeners.add(inFlight.listen);
  listeners.sentTo([oldOrigin], 'e1', 'e1', 1);
  listeners.sentTo([currentOrigin], 'e2', 'e2', 1);
  listeners.dropOutside('e2', 5);
  assert.deepEqual(old.heard, [['dropped', 5, undefined]]);
  assert.deepEqual(current.heard, []);
  assert.deepEqual(inFlight.heard, [], 'its call has not returned: sentTo settles it');
  listeners.dropOutside('e2', 6);
  assert.equal(old.heard.length, 1, 'once');
  listeners.sentTo([inFlightOrigin], 'e1', 'e2', 7);
  assert.deepEqual(inFlight.heard, [['dropped', 7, undefined]]);
});

test('forget removes listeners of a call that stored nothing', () => {
  const listeners = new StateListeners('n', 10);
  const one = listener();
  const origin = listeners.add(one.listen);
  listeners.forget([origin, 'n:other']);
  listeners.state(origin, 'sent', 1, 1);
  listeners.sentTo([origin], 'e0', 'e1', 2);
  assert.deepEqual(one.heard, []);
});
