import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { dataMembers, encodeOnce } from './encode-once.js';
import { message } from '../../test/helpers/outbound.js';

test('encodeOnce encodes each message once, in a run and when messages interleave', () => {
  const calls: unknown[] = [];
  const encode = encodeOnce((m) => {
    calls.push(JSON.parse(m.json));
    return `<${m.json}>`;
  });
  const a = message('a');
  const b = message('b');
  for (let i = 0; i < 3; i++) assert.equal(encode(a), '<"a">');
  assert.equal(encode(b), '<"b">');
  assert.equal(encode(a), '<"a">');
  assert.equal(encode(b), '<"b">');
  assert.deepEqual(calls, ['a', 'b']);
});

test('dataMembers writes the members a data message carries, payload as serialized', () => {
  assert.equal(dataMembers(message({ x: 1 })), ',"data":{"x":1}}');
  assert.equal(
    dataMembers(message('hi', { channel: '/room/"1"', sender: 'abc', urgent: true })),
    ',"channel":"/room/\\"1\\"","sender":"abc","urgent":true,"data":"hi"}',
  );
});
