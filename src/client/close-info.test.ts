import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { closeInfoOf } from './close-info.js';

test('closeInfoOf reads a close object, with safe defaults for what is missing or wrong', () => {
  assert.equal(closeInfoOf(undefined), undefined);
  assert.equal(closeInfoOf(null), undefined);
  assert.equal(closeInfoOf('closed'), undefined);
  assert.deepEqual(closeInfoOf({ code: 4001, reason: 'inactive', reconnect: true }), {
    code: 4001,
    reason: 'inactive',
    reconnect: true,
  });
  assert.deepEqual(closeInfoOf({ code: 4501, reason: 'not_allowed', reconnect: false }), {
    code: 4501,
    reason: 'not_allowed',
    reconnect: false,
  });
  assert.deepEqual(closeInfoOf({}), { code: 0, reason: 'closed', reconnect: true });
  assert.deepEqual(closeInfoOf({ code: '4001', reason: 5, reconnect: 'no' }), {
    code: 0,
    reason: 'closed',
    reconnect: true,
  });
});
