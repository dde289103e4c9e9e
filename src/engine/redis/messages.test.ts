import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { MessageCache, messageArgs } from './messages.js';
import { messageCost } from '../../core/memory-cost.js';
import { SwitchboardError } from '../../core/errors.js';
import type { Outbound } from '../../core/types.js';

function outbound(json: string, extra: Partial<Outbound> = {}): Outbound {
  const bytes = Buffer.byteLength(json);
  return {
    path: '/room',
    channel: '/room',
    sender: 'addr-1',
    json,
    bytes,
    cost: messageCost(json, bytes),
    urgent: false,
    reliable: true,
    createdAt: 1_700_000_000_000,
    ...extra,
  };
}

/** The body a message is stored under, as the script receives it. */
const bodyOf = (message: Outbound): string => messageArgs('m', message, '')[1] as string;

function missing(cache: MessageCache, mid: string): boolean {
  try {
    cache.decode(mid, undefined);
    return false;
  } catch (error) {
    assert.ok(error instanceof SwitchboardError);
    assert.equal(error.code, 'SB_ERR_INTERNAL');
    assert.match(error.message, new RegExp(`message ${mid} has no body`));
    return true;
  }
}

test('messageArgs: the fields the script reads, and a body that decodes to the same message', () => {
  const urgent = outbound('{"é":1}', {
    urgent: true,
    reliable: false,
    path: undefined,
    channel: 'addr-2',
    sender: undefined,
  });
  const args = messageArgs('42', urgent, 'node-a');
  assert.deepEqual(args.slice(0, 1), ['42']);
  assert.deepEqual(args.slice(2), [String(urgent.cost), '0', '1', String(urgent.createdAt), 'node-a', '8']);
  const decoded = new MessageCache(10, 1 << 20).decode('42', args[1]);
  assert.deepEqual(decoded, urgent);

  const plain = outbound('[1,2]');
  const again = new MessageCache(10, 1 << 20).decode('7', bodyOf(plain));
  assert.deepEqual(again, plain);
  assert.equal(again.urgent, false);
  assert.equal(again.reliable, true);
});

test('bodies stored before wire bytes and cost were recorded get them computed', () => {
  const body = JSON.stringify(['/p', '/p', null, '"héllo"', 0, 1, 5]);
  const message = new MessageCache(10, 1 << 20).decode('1', body);
  assert.equal(message.bytes, 8);
  assert.equal(message.cost, messageCost('"héllo"', 8));
  assert.equal(message.sender, undefined);
});

test('one shared object per mid: a second decode does not parse again', () => {
  const cache = new MessageCache(10, 1 << 20);
  const first = cache.decode('1', bodyOf(outbound('1')));
  assert.equal(cache.decode('1', undefined), first);
  assert.equal(cache.decode('1', bodyOf(outbound('"another body"'))), first);
  assert.equal(missing(cache, '2'), true);
});

test('bounded by count: the oldest goes first, exactly max are kept', () => {
  const cache = new MessageCache(2, 1 << 20);
  cache.decode('1', bodyOf(outbound('1')));
  cache.decode('2', bodyOf(outbound('2')));
  assert.equal(missing(cache, '1'), false, 'two fit');
  cache.decode('3', bodyOf(outbound('3')));
  assert.equal(missing(cache, '1'), true, 'the oldest was evicted');
  assert.equal(missing(cache, '2'), false);
  assert.equal(missing(cache, '3'), false);
});

test('bounded by what the messages hold; one message over the bound alone is still kept', () => {
  const small = outbound('"x"');
  const cache = new MessageCache(100, small.cost * 2);
  cache.decode('1', bodyOf(small));
  cache.decode('2', bodyOf(small));
  assert.equal(missing(cache, '1'), false, 'exactly the byte bound fits');
  cache.decode('3', bodyOf(small));
  assert.equal(missing(cache, '1'), true);
  assert.equal(missing(cache, '2'), false);

  const big = outbound(JSON.stringify('y'.repeat(10_000)));
  cache.decode('4', bodyOf(big));
  assert.equal(missing(cache, '2'), true);
  assert.equal(missing(cache, '3'), true);
  assert.equal(missing(cache, '4'), false, 'the newest is kept even when it alone is over');
  // Evicting gives its bytes back: small messages fit again beside nothing else.
  cache.decode('5', bodyOf(small));
  assert.equal(missing(cache, '4'), true);
  assert.equal(missing(cache, '5'), false);
});

test('clear forgets every message and every byte', () => {
  const small = outbound('"x"');
  const cache = new MessageCache(100, small.cost * 2);
  cache.decode('1', bodyOf(small));
  cache.decode('2', bodyOf(small));
  cache.clear();
  assert.equal(missing(cache, '1'), true);
  cache.decode('3', bodyOf(small));
  cache.decode('4', bodyOf(small));
  assert.equal(missing(cache, '3'), false, 'the cleared bytes no longer count');
});
