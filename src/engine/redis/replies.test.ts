/**
 * Reading the Redis script's answers and Redis' failures, without Redis: the shapes engine.lua
 * returns (see its `take`, `inspect` and session replies) and the errors a script raises.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { SwitchboardError } from '../../core/errors.js';
import type { Outbound } from '../../core/types.js';
import {
  batches,
  EMPTY_BATCH,
  fromRedis,
  list,
  pairs,
  queueSnapshot,
  sessionInfo,
  unavailable,
} from './replies.js';

const decode = (mid: string, body: string | undefined): Outbound => ({
  path: body === undefined ? undefined : `/${mid}`,
  channel: undefined,
  sender: undefined,
  json: JSON.stringify(body ?? null),
  bytes: 1,
  cost: 1,
  createdAt: 0,
  urgent: mid.startsWith('u'),
  reliable: !mid.startsWith('x'),
});

test('take replies: superseded, ended with a reason, empty, and batches with bodies shared per call', () => {
  const [superseded, ended, gone, odd, empty, full, last] = batches(
    [
      [2],
      [0, 'inactive'],
      [0, null],
      [7],
      [1, [], [], 0],
      [1, ['c1'], [1, 'm1', 0, 2, 'm2', 1], 1],
      [1, [], [3, 'm1', 1], 0],
    ],
    ['m1', 'one', 'm2', 'two'],
    decode,
  );
  assert.deepEqual(superseded, { acks: [], deliveries: [], superseded: true });
  assert.deepEqual(ended, { acks: [], deliveries: [], ended: 'inactive' });
  assert.equal(gone, EMPTY_BATCH);
  assert.equal(odd, EMPTY_BATCH);
  assert.equal(empty, EMPTY_BATCH);
  assert.deepEqual(
    full?.deliveries.map((d) => [d.id, d.message.json, d.retry]),
    [
      [1, '"one"', false],
      [2, '"two"', true],
    ],
  );
  assert.deepEqual(full?.acks, ['c1']);
  assert.equal(full?.more, true);
  assert.equal(last?.more, undefined);
  assert.deepEqual(
    last?.deliveries.map((d) => d.message.json),
    ['"one"'],
  );
  const [again] = batches([[0, 'overflow']], [], decode);
  assert.equal(again, batches([[0, 'overflow']], [], decode)[0], 'one frozen batch per reason');
});

test('inspect replies: unsent entries and the tail with its ids, attempts, times and states', () => {
  const snapshot = queueSnapshot(
    ['7', '300', ['u1|100', 'm2|200'], ['m3|2|400|r', '5', 'm4|1|500|s', '6'], ['m3', 'three']],
    decode,
  );
  assert.deepEqual(snapshot, {
    nextId: 7,
    bytes: 300,
    unsent: [
      { id: undefined, state: 'unsent', at: 100, attempts: 0, path: undefined, urgent: true, reliable: true },
      {
        id: undefined,
        state: 'unsent',
        at: 200,
        attempts: 0,
        path: undefined,
        urgent: false,
        reliable: true,
      },
    ],
    unacked: [
      { id: 5, state: 'retrying', at: 400, attempts: 2, path: '/m3', urgent: false, reliable: true },
      { id: 6, state: 'sent', at: 500, attempts: 1, path: undefined, urgent: false, reliable: true },
    ],
  });
});

test('session replies, pairs and lists', () => {
  const reply = ['x', 's1', 'a1', 'lpio', 'alice', '10', '20', 's2', 'a2', 'websocket', null, '30', '40'];
  assert.deepEqual(sessionInfo(reply, 1), {
    id: 's1',
    address: 'a1',
    protocol: 'lpio',
    user: 'alice',
    status: 'open',
    createdAt: 10,
    lastSeen: 20,
  });
  assert.equal(sessionInfo(reply, 7).user, undefined, 'no user: anonymous');
  assert.deepEqual(pairs(['a', '1', 'b', 2, 'c']), [
    ['a', '1'],
    ['b', 2],
    ['c', null],
  ]);
  assert.deepEqual(list(undefined), []);
  assert.deepEqual(list([1]), [1]);
});

test('a script error with a known code keeps it; anything else is the engine being unavailable', () => {
  const coded = fromRedis(new Error('SB_ERR_QUEUE_FULL the queue is full\nsecond line'));
  assert.ok(coded instanceof SwitchboardError);
  assert.deepEqual([coded.code, coded.message], ['SB_ERR_QUEUE_FULL', 'the queue is full\nsecond line']);
  for (const text of [
    'SB_ERR_NOT_A_CODE x',
    'ERR SB_ERR_QUEUE_FULL x',
    'SB_ERR_QUEUE_FULL',
    'socket closed',
  ]) {
    const failure = fromRedis(new Error(text));
    assert.equal(failure.code, 'SB_ERR_ENGINE_UNAVAILABLE', text);
    assert.equal(failure.message, `the Redis engine is unavailable: ${text}`);
    assert.ok(failure.cause instanceof Error);
  }
  assert.equal(fromRedis('down').message, 'the Redis engine is unavailable: down');
  const already = new SwitchboardError('SB_ERR_FORBIDDEN', 'no');
  assert.equal(fromRedis(already), already);
  assert.equal(unavailable(already), already);
});
