import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import {
  MAX_ERROR_MESSAGE,
  SwitchboardError,
  isSwitchboardError,
  quote,
  toSwitchboardError,
  truncate,
} from './errors.js';

test('quote shows at most 40 characters of the input, JSON-quoted, and says how long it was', () => {
  assert.equal(quote('abc'), '"abc"');
  assert.equal(quote('x'.repeat(40)), JSON.stringify('x'.repeat(40)));
  assert.equal(quote('x'.repeat(41)), `${JSON.stringify(`${'x'.repeat(40)}…`)} (41 characters)`);
  assert.equal(quote('a"b\n'), '"a\\"b\\n"', 'quotes and control characters are escaped');
  assert.equal(quote(5), '"5"');
  assert.equal(quote({ a: 1 }), JSON.stringify('{"a":1}'));
  assert.equal(quote(undefined), '"undefined"');
  assert.equal(quote(1n), '"bigint"', 'what JSON cannot show is named by its type');
  assert.equal(quote('abcdef', 3), '"abc…" (6 characters)');
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.equal(quote(cycle), '"object"');
});

test('truncate cuts to exactly max characters, marking the cut', () => {
  assert.equal(truncate('abc', 3), 'abc');
  assert.equal(truncate('abcd', 3), 'ab…');
  assert.equal(truncate('abcd', 3).length, 3);
});

test('an error carries its status, its retry hint and a bounded message on the wire', () => {
  const error = new SwitchboardError('SB_ERR_RATE_LIMITED', 'slow down', { retryAfter: 3 });
  assert.equal(error.status, 429);
  assert.equal(error.retryAfter, 3);
  assert.equal(error.name, 'SwitchboardError');
  assert.equal(new SwitchboardError('SB_ERR_BAD_JSON', 'x').retryAfter, undefined);
  assert.deepEqual(error.toJSON(), { error: { code: 'SB_ERR_RATE_LIMITED', message: 'slow down' } });
  const long = new SwitchboardError('SB_ERR_BAD_MESSAGE', 'y'.repeat(1000)).toJSON().error.message;
  assert.equal(long.length, MAX_ERROR_MESSAGE);
  assert.equal(MAX_ERROR_MESSAGE, 300);
});

test('only errors with a known code count as ours; anything else becomes SB_ERR_INTERNAL with its cause', () => {
  const ours = new SwitchboardError('SB_ERR_FORBIDDEN', 'no');
  assert.equal(isSwitchboardError(ours), true);
  const copied = Object.assign(new Error('from another copy of the package'), { code: 'SB_ERR_FORBIDDEN' });
  assert.equal(isSwitchboardError(copied), true, 'matched by code, not by class');
  assert.equal(isSwitchboardError(Object.assign(new Error('x'), { code: 'ECONNRESET' })), false);
  assert.equal(isSwitchboardError({ code: 'SB_ERR_FORBIDDEN' }), false, 'not an Error');
  assert.equal(isSwitchboardError(Object.assign(new Error('x'), { code: 7 })), false);
  assert.equal(toSwitchboardError(ours), ours);
  const cause = new TypeError('boom');
  const wrapped = toSwitchboardError(cause);
  assert.equal(wrapped.code, 'SB_ERR_INTERNAL');
  assert.equal(wrapped.status, 500);
  assert.equal(wrapped.message, 'internal error', 'the internal message is not shown to clients');
  assert.equal(wrapped.cause, cause);
});
