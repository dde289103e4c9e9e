import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DEFAULT_LIMITS, limitsOf, takeFitting, utf8Length } from './limits.js';

test('the defaults are the server defaults of docs/configuration.md', () => {
  assert.deepEqual(DEFAULT_LIMITS, { messages: 1000, bytes: 1_048_576, messageBytes: 65_536 });
});

test('limitsOf takes positive safe integers and keeps the current value for anything else', () => {
  const current = { messages: 10, bytes: 100, messageBytes: 50 };
  assert.equal(limitsOf(undefined, current), current);
  assert.equal(limitsOf(null, current), current);
  assert.equal(limitsOf('limits', current), current);
  assert.deepEqual(limitsOf({ messages: 5, bytes: 1, messageBytes: 2 ** 53 - 1 }, current), {
    messages: 5,
    bytes: 1,
    messageBytes: 2 ** 53 - 1,
  });
  for (const bad of [0, -1, 1.5, 2 ** 53, Number.NaN, Infinity, '5', null, true]) {
    assert.deepEqual(
      limitsOf({ messages: bad, bytes: bad, messageBytes: bad }, current),
      current,
      String(bad),
    );
  }
  assert.deepEqual(limitsOf({ bytes: 7 }, current), { messages: 10, bytes: 7, messageBytes: 50 });
});

test('utf8Length counts like Buffer.byteLength, surrogate pairs as 4', () => {
  for (const text of [
    '',
    'a',
    '\u007f',
    '\u0080',
    'é',
    '\u07ff',
    '\u0800',
    '€',
    '\uffff',
    '😀',
    'a😀b',
    '😀😀',
    'x\ud800',
    '\udc00y',
    '\ud800\ud800',
    '\ud800é',
    'é\udbff\udfff',
    // At the edges of the surrogate ranges: only a high one then a low one is a pair.
    '\ud800\udc00',
    '\ud7ff\udc00',
    '\u0800\udc00',
    '\udc00\udc00',
    '\ue000\udc00',
    '\ud800\ue000',
    '\ud800\udbff',
  ]) {
    assert.equal(utf8Length(text), Buffer.byteLength(text, 'utf8'), JSON.stringify(text));
  }
});

test('takeFitting stops at the message count and at the byte limit, separators counted', () => {
  const size = (item: string): number => item.length;
  const limits = { messages: 3, bytes: 20, messageBytes: 10 };
  assert.equal(takeFitting([], size, limits, 0), 0);
  assert.equal(takeFitting(['a', 'b', 'c', 'd'], size, limits, 0), 3, 'count bound');
  // Each item costs its size + 1: 4 + 5 = 9 ... overhead 2 + 9 + 9 = 20: exactly the bound.
  assert.equal(takeFitting(['12345678', '12345678', 'x'], size, limits, 2), 2);
  assert.equal(takeFitting(['12345678', '12345678'], size, limits, 3), 1, 'one byte over: the second waits');
  assert.equal(takeFitting(['x'.repeat(19)], size, limits, 0), 1, '19 + 1 = 20 fits');
  assert.equal(takeFitting(['x'.repeat(20)], size, limits, 0), 0, '20 + 1 does not');
  assert.equal(
    takeFitting(['x'.repeat(30), 'a'], size, limits, 0),
    0,
    'never skips ahead of one that does not fit',
  );
});
