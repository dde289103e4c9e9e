import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { InboundChecks, type Prepared } from './inbound.js';
import { resolveSettings, type HubSettings } from './settings.js';
import { SwitchboardError, type ErrorCode } from './errors.js';
import { messageCost } from './memory-cost.js';
import type { AuthorizeHook, Permission } from './hooks.js';
import type { InboundMessage, SessionInfo } from './types.js';

const session: SessionInfo = {
  id: 'secret-session-id',
  address: 'addr-alice',
  protocol: 'websocket',
  user: 'alice',
  status: 'open',
  createdAt: 1,
  lastSeen: 1,
};

/** Sessions by address, as the engine would answer: only `addr-bob` exists. */
const findByAddress = (address: string): Promise<string | undefined> =>
  Promise.resolve(address === 'addr-bob' ? 'session-of-bob' : undefined);

function checks(
  overrides: Partial<HubSettings> = {},
  authorize?: AuthorizeHook,
  now = () => 1234,
): InboundChecks {
  return new InboundChecks(resolveSettings(overrides), findByAddress, authorize, now);
}

function refusedCodes(prepared: Prepared): Array<[string, ErrorCode]> {
  return prepared.refused.map(({ id, error }) => [id, error.code]);
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SwitchboardError, String(error));
    assert.equal(error.code, code);
    return true;
  });
}

test('a request may carry exactly maxMessagesPerRequest messages, not one more', async () => {
  const inbound = checks({ maxMessagesPerRequest: 3 });
  const message = (i: number): InboundMessage => ({ id: `m${i}`, data: i });
  const three = await inbound.prepare(session, [1, 2, 3].map(message));
  assert.equal(three.messages.length, 3);
  await rejectsWith(inbound.prepare(session, [1, 2, 3, 4].map(message)), 'SB_ERR_TOO_MANY_MESSAGES');
});

test('a refused message is refused alone; the others keep their order', async () => {
  const inbound = checks({ maxMessageBytes: 10 });
  const prepared = await inbound.prepare(session, [
    { id: 'a', data: 1, path: '/chat' },
    { id: 'b', data: 'x'.repeat(20), path: '/chat' },
    { id: 'c', data: 2, path: 'no-slash' },
    { id: 'd', data: 3, to: 'addr-nobody' },
    { id: 'e', data: 4, path: '/meta/other' },
    { id: 'f', data: undefined },
    { id: 'g', data: 5 },
  ]);
  assert.deepEqual(
    prepared.messages.map((m) => [m.message.id, m.kind]),
    [
      ['a', 'publish'],
      ['g', 'server'],
    ],
  );
  assert.deepEqual(refusedCodes(prepared), [
    ['b', 'SB_ERR_PAYLOAD_TOO_LARGE'],
    ['c', 'SB_ERR_BAD_PATH'],
    ['d', 'SB_ERR_NO_SESSION'],
    ['e', 'SB_ERR_BAD_PATH'],
    ['f', 'SB_ERR_BAD_MESSAGE'],
  ]);
});

test('maxMessageBytes counts UTF-8 bytes of the JSON, and its exact size passes', async () => {
  const inbound = checks({ maxMessageBytes: 10 });
  // JSON of 'éééé' is "éééé": 2 quotes + 4 × 2 bytes = 10 bytes.
  const fits = await inbound.prepare(session, [{ id: 'a', data: 'éééé' }]);
  assert.equal(fits.messages[0]?.jsonBytes, 10);
  const over = await inbound.prepare(session, [{ id: 'a', data: 'ééééx' }]);
  assert.deepEqual(refusedCodes(over), [['a', 'SB_ERR_PAYLOAD_TOO_LARGE']]);
  assert.match(over.refused[0]?.error.message ?? '', /is 11 bytes, over the limit of 10/);
  // Far over: refused without counting.
  const far = await inbound.prepare(session, [{ id: 'a', data: 'x'.repeat(100) }]);
  assert.match(far.refused[0]?.error.message ?? '', /is at least 102 bytes, over the limit of 10/);
  assert.throws(
    () => inbound.outbound('/p', '/p', 'x'.repeat(20), {}),
    /at least 22 bytes, over the limit of 10/,
  );
});

test('data without a JSON form is refused with SB_ERR_BAD_MESSAGE', async () => {
  const inbound = checks();
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  const prepared = await inbound.prepare(session, [
    { id: 'undefined', data: undefined },
    { id: 'function', data: () => 1 },
    { id: 'bigint', data: 1n },
    { id: 'cycle', data: cycle },
  ]);
  assert.deepEqual(
    prepared.refused.map(({ id, error }) => [id, error.code]),
    ['undefined', 'function', 'bigint', 'cycle'].map((id) => [id, 'SB_ERR_BAD_MESSAGE']),
  );
  assert.match(prepared.refused[0]?.error.message ?? '', /has no data/);
  assert.match(prepared.refused[2]?.error.message ?? '', /cannot be serialized to JSON/);
});

test('authorize is asked for every publish, subscribe pattern and send, with the session', async () => {
  const asked: Array<[Permission, string, string]> = [];
  const authorize: AuthorizeHook = (action, target, who) => {
    asked.push([action, target, who.id]);
    return Promise.resolve(target !== '/secret' && target !== '/secret/*');
  };
  const inbound = checks({}, authorize);
  const prepared = await inbound.prepare(session, [
    { id: 'p1', data: 1, path: '/open' },
    { id: 'p2', data: 1, path: '/secret' },
    { id: 's1', data: ['/open/*', '/secret/*'], path: '/meta/subscribe' },
    { id: 's2', data: '/open/x', path: '/meta/subscribe' },
    { id: 'u1', data: ['/secret/*'], path: '/meta/unsubscribe' },
    { id: 'd1', data: 1, to: 'addr-bob' },
    { id: 'x1', data: 1 },
  ]);
  assert.deepEqual(asked, [
    ['publish', '/open', session.id],
    ['publish', '/secret', session.id],
    ['subscribe', '/open/*', session.id],
    ['subscribe', '/secret/*', session.id],
    ['subscribe', '/open/x', session.id],
    ['send', 'addr-bob', session.id],
  ]);
  assert.deepEqual(refusedCodes(prepared), [
    ['p2', 'SB_ERR_FORBIDDEN'],
    ['s1', 'SB_ERR_FORBIDDEN'],
  ]);
  assert.match(prepared.refused[0]?.error.message ?? '', /not allowed to publish "\/secret"/);
  assert.deepEqual(
    prepared.messages.map((m) => [m.message.id, m.kind, m.target]),
    [
      ['p1', 'publish', '/open'],
      ['s2', 'subscribe', undefined],
      ['u1', 'unsubscribe', undefined],
      ['d1', 'direct', 'session-of-bob'],
      ['x1', 'server', undefined],
    ],
  );
  assert.deepEqual(prepared.messages[1]?.patterns, ['/open/x']);
});

test('only a literal true allows; a hook that throws refuses with its own 4xx, or fails the request on 5xx', async () => {
  for (const answer of [false, 'yes', 1, undefined, null, {}]) {
    const inbound = checks({}, () => Promise.resolve(answer as boolean));
    const prepared = await inbound.prepare(session, [{ id: 'a', data: 1, path: '/x' }]);
    assert.deepEqual(refusedCodes(prepared), [['a', 'SB_ERR_FORBIDDEN']], JSON.stringify(answer));
  }
  const refusing = checks({}, () => Promise.reject(new SwitchboardError('SB_ERR_UNAUTHORIZED', 'expired')));
  const prepared = await refusing.prepare(session, [
    { id: 'a', data: 1, path: '/x' },
    { id: 'b', data: 1 },
  ]);
  assert.deepEqual(refusedCodes(prepared), [['a', 'SB_ERR_UNAUTHORIZED']]);
  assert.equal(prepared.messages.length, 1);
  const broken = checks({}, () => Promise.reject(new Error('database down')));
  await rejectsWith(broken.prepare(session, [{ id: 'a', data: 1, path: '/x' }]), 'SB_ERR_INTERNAL');
});

test('no authorize hook: everything the other checks pass is allowed', async () => {
  const prepared = await checks().prepare(session, [
    { id: 'a', data: 1, path: '/x' },
    { id: 'b', data: '/x/*', path: '/meta/subscribe' },
    { id: 'c', data: 1, to: 'addr-bob' },
  ]);
  assert.equal(prepared.refused.length, 0);
  assert.equal(prepared.messages.length, 3);
});

test('a subscribe may name exactly maxSubscriptions patterns, each a valid pattern', async () => {
  const inbound = checks({ maxSubscriptions: 2 });
  const prepared = await inbound.prepare(session, [
    { id: 'two', data: ['/a', '/b/*'], path: '/meta/subscribe' },
    { id: 'three', data: ['/a', '/b', '/c'], path: '/meta/subscribe' },
    { id: 'unsub-three', data: ['/a', '/b', '/c'], path: '/meta/unsubscribe' },
    { id: 'bad', data: ['/a', 'nope'], path: '/meta/subscribe' },
    { id: 'not-a-string', data: [7], path: '/meta/unsubscribe' },
  ]);
  assert.deepEqual(
    prepared.messages.map((m) => m.message.id),
    ['two'],
  );
  assert.deepEqual(refusedCodes(prepared), [
    ['three', 'SB_ERR_TOO_MANY_SUBSCRIPTIONS'],
    ['unsub-three', 'SB_ERR_TOO_MANY_SUBSCRIPTIONS'],
    ['bad', 'SB_ERR_BAD_PATH'],
    ['not-a-string', 'SB_ERR_BAD_PATH'],
  ]);
});

test('routes carry one outbound object with the measures the bounds use', async () => {
  const inbound = checks({}, undefined, () => 777);
  const prepared = await inbound.prepare(session, [
    { id: 'p', data: { é: 1 }, path: '/room', urgent: true },
    { id: 'd', data: [1], to: 'addr-bob', reliable: false },
    { id: 's', data: '/room/*', path: '/meta/subscribe' },
    { id: 'x', data: 1 },
  ]);
  const [publish, direct, subscribe, server] = prepared.messages.map((m) => inbound.routeOf(session, m));
  assert.ok(publish?.kind === 'publish');
  assert.equal(publish.path, '/room');
  const json = '{"é":1}';
  assert.deepEqual(publish.message, {
    path: '/room',
    channel: '/room',
    sender: 'addr-alice',
    json,
    bytes: 8,
    cost: messageCost(json, 8),
    urgent: true,
    reliable: true,
    createdAt: 777,
    onState: undefined,
  });
  assert.ok(direct?.kind === 'direct');
  assert.equal(direct.to, 'session-of-bob');
  assert.equal(direct.message.path, undefined);
  assert.equal(direct.message.channel, 'addr-bob');
  assert.equal(direct.message.reliable, false);
  assert.equal(direct.message.urgent, false);
  assert.deepEqual(subscribe, { kind: 'subscribe', patterns: ['/room/*'] });
  assert.deepEqual(server, { kind: 'server' });
});

test("the application's messages have no sender and keep their state listener", () => {
  const onState = (): void => undefined;
  const message = checks({}, undefined, () => 5).outbound(
    undefined,
    'addr-bob',
    { a: 1 },
    { onState, urgent: true },
  );
  assert.equal(message.sender, undefined);
  assert.equal(message.onState, onState);
  assert.equal(message.json, '{"a":1}');
  assert.equal(message.bytes, 7);
  assert.equal(message.createdAt, 5);
  assert.equal(message.urgent, true);
  assert.equal(message.reliable, true);
  assert.throws(() => checks().outbound('/p', '/p', undefined, {}), /has no data/);
});
