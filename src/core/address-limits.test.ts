import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { AddressLimiter, type AddressLimitSettings } from './address-limits.js';
import { SwitchboardError } from './errors.js';

const settings: AddressLimitSettings = {
  maxSocketsPerAddress: 2,
  maxConnectionsPerAddress: 2,
  requestsPerSecondPerAddress: 10,
  requestBurstPerAddress: 10,
  sessionsPerMinutePerAddress: 600,
  sessionBurstPerAddress: 10,
  maxSessionsPerAddress: 2,
  maxTrackedAddresses: 2,
};

test('a socket counted on the shared overflow entry is released there', () => {
  let now = 0;
  const limiter = new AddressLimiter(settings, () => now);
  const a = limiter.socketOpened('10.0.0.1');
  const b = limiter.socketOpened('10.0.0.2');
  assert.ok(a && b);
  // The table is full of busy entries: newcomers share one entry, and each releases its own count.
  for (let i = 3; i < 20; i++) {
    now += 2_000;
    const release = limiter.socketOpened(`10.0.0.${i}`);
    assert.ok(release, `newcomer ${i} accepted`);
    release();
    release(); // twice is once
  }
  assert.equal(limiter.refused.sockets, 0);
  // Each newcomer released exactly what it took: the shared entry is empty again, so it holds
  // maxSocketsPerAddress (2) more and refuses the next. A release counted twice would leave room.
  assert.ok(limiter.socketOpened('10.0.0.30'));
  assert.ok(limiter.socketOpened('10.0.0.31'));
  assert.equal(limiter.socketOpened('10.0.0.32'), undefined, 'the shared entry is full');
  assert.equal(limiter.refused.sockets, 1);
});

test('the held sessions of an address are bounded, and released when they close', () => {
  const limiter = new AddressLimiter({ ...settings, maxTrackedAddresses: 100 });
  assert.equal(limiter.openSession('10.0.0.1'), true);
  limiter.sessionOpened('10.0.0.1', 's1');
  limiter.sessionOpened('10.0.0.1', 's2');
  assert.equal(limiter.openSession('10.0.0.1'), false, 'a third is over maxSessionsPerAddress');
  assert.deepEqual(limiter.heldBy('10.0.0.1', 16), ['s1', 's2']);
  limiter.sessionClosed('s1');
  assert.equal(limiter.hasSessionRoom('10.0.0.1'), true);
  assert.equal(limiter.openSession('10.0.0.2'), true, 'another address has its own count');
  limiter.forgetSessions();
  assert.deepEqual(limiter.heldBy('10.0.0.1', 16), []);
});

test('IPv6 addresses count by their /64; IPv4-mapped ones as IPv4', () => {
  const limiter = new AddressLimiter({ ...settings, maxTrackedAddresses: 100 });
  assert.ok(limiter.socketOpened('2001:db8:1:2::1'));
  assert.ok(limiter.socketOpened('2001:db8:1:2:ffff::9'));
  assert.equal(
    limiter.socketOpened('2001:0db8:0001:0002:0:0:0:7'),
    undefined,
    'same /64: the third is refused',
  );
  assert.ok(limiter.socketOpened('2001:db8:1:3::1'), 'another /64');
  assert.ok(limiter.socketOpened('::ffff:10.1.2.3'));
  assert.ok(limiter.socketOpened('10.1.2.3'));
  assert.equal(limiter.socketOpened('10.1.2.3'), undefined, 'the mapped and the plain address are one');
});

test('a full table looks for idle entries at most once a second', () => {
  let now = 0;
  const limiter = new AddressLimiter({ ...settings, maxTrackedAddresses: 3 }, () => now);
  const held = ['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((address) => limiter.admit(address));
  assert.equal(limiter.size, 3);
  // All three are busy (connections held): a newcomer shares the overflow entry.
  held.push(limiter.admit('10.0.0.4'));
  assert.equal(limiter.size, 4, 'three and the overflow entry');
  // Their buckets refill, but they still hold connections: nothing to forget.
  now += 60_000;
  held.push(limiter.admit('10.0.0.5'));
  assert.equal(limiter.size, 4);
  // Now they are idle, but the table was looked at just now: the next look is a second away.
  for (const release of held) release();
  now += 999;
  limiter.admit('10.0.0.6');
  assert.equal(limiter.size, 4, 'no look within a second of the last');
  // A second after the last look, the oldest idle entry (a tenth of the table, at least one) goes.
  now += 1;
  limiter.admit('10.0.0.7');
  assert.equal(limiter.size, 3, 'one idle entry was forgotten');
});

function refusal(run: () => unknown): SwitchboardError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof SwitchboardError);
    assert.equal(error.code, 'SB_ERR_RATE_LIMITED');
    return error;
  }
  assert.fail('expected a refusal');
}

test('admit: the connection cap holds without a rate limit, and a release frees one slot', () => {
  const limiter = new AddressLimiter({
    ...settings,
    requestsPerSecondPerAddress: 0,
    maxTrackedAddresses: 100,
  });
  const first = limiter.admit('10.0.0.1');
  limiter.admit('10.0.0.1');
  const error = refusal(() => limiter.admit('10.0.0.1'));
  assert.equal(error.retryAfter, 1);
  assert.match(error.message, /maximum of 2 connections/);
  assert.equal(limiter.refused.connections, 1);
  refusal(() => limiter.admit('10.0.0.1'));
  assert.equal(limiter.refused.connections, 2);
  first();
  first(); // twice is once
  limiter.admit('10.0.0.1');
  refusal(() => limiter.admit('10.0.0.1'));
  assert.equal(limiter.refused.requests, 0);
});

test('admit: the request rate holds without a connection cap; Retry-After is the wait for one token', () => {
  let now = 5_000;
  const limiter = new AddressLimiter(
    {
      ...settings,
      maxConnectionsPerAddress: 0,
      requestsPerSecondPerAddress: 0.25,
      requestBurstPerAddress: 2,
    },
    () => now,
  );
  limiter.admit('10.0.0.1');
  limiter.admit('10.0.0.1');
  const error = refusal(() => limiter.admit('10.0.0.1'));
  assert.equal(error.retryAfter, 4, 'an empty bucket at 0.25/s: 4 s');
  assert.match(error.message, /limit of 0.25 requests per second/);
  assert.equal(limiter.refused.requests, 1);
  now += 3_000; // 0.75 token
  assert.equal(refusal(() => limiter.admit('10.0.0.1')).retryAfter, 1, '0.25 token missing: 1 s');
  now += 1_000;
  limiter.admit('10.0.0.1');
  assert.equal(limiter.refused.requests, 2);
  assert.equal(limiter.refused.connections, 0);
});

test('openSession: the session rate, its Retry-After and its count', () => {
  let now = 1_000;
  const limiter = new AddressLimiter(
    { ...settings, sessionsPerMinutePerAddress: 6, sessionBurstPerAddress: 1, maxTrackedAddresses: 100 },
    () => now,
  );
  assert.equal(limiter.openSession(undefined), true, 'no address, no limit');
  assert.equal(limiter.openSession('10.0.0.1'), true);
  const error = refusal(() => limiter.openSession('10.0.0.1'));
  assert.equal(error.retryAfter, 10, '6 a minute: one every 10 s');
  assert.match(error.message, /limit of 6 new sessions per minute/);
  now += 5_000;
  assert.equal(refusal(() => limiter.openSession('10.0.0.1')).retryAfter, 5);
  assert.equal(limiter.refused.sessions, 2);
  now += 5_000;
  assert.equal(limiter.openSession('10.0.0.1'), true);
  assert.equal(limiter.openSession('10.0.0.2'), true, 'another address has its own bucket');
});

test('heldBy returns the oldest n, and the held refusal is counted', () => {
  const limiter = new AddressLimiter({ ...settings, maxSessionsPerAddress: 3, maxTrackedAddresses: 100 });
  for (const id of ['s1', 's2', 's3']) limiter.sessionOpened('10.0.0.1', id);
  assert.deepEqual(limiter.heldBy('10.0.0.1', 1), ['s1']);
  assert.deepEqual(limiter.heldBy('10.0.0.1', 2), ['s1', 's2']);
  assert.deepEqual(limiter.heldBy('10.0.0.9', 2), []);
  const error = limiter.heldRefusal();
  assert.equal(error.code, 'SB_ERR_RATE_LIMITED');
  assert.equal(error.retryAfter, 5);
  assert.match(error.message, /maximum of 3 sessions/);
  assert.equal(limiter.refused.held, 1);
});

test('a table with room gives each address its own entry and forgets nothing', () => {
  const limiter = new AddressLimiter({ ...settings, maxTrackedAddresses: 3 });
  for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
    assert.ok(limiter.socketOpened(address));
    const release = limiter.socketOpened(address);
    assert.ok(release);
    assert.equal(limiter.socketOpened(address), undefined, `${address} has its own count`);
    release();
  }
  const idle = new AddressLimiter({ ...settings, maxTrackedAddresses: 3 });
  for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) idle.socketOpened(address)?.();
  assert.equal(idle.size, 3, 'idle entries stay while there is room');
});

/**
 * A table of one entry, `address` in some state; `later` ms on, a newcomer arrives. The table is
 * full, so the entry is looked at: forgotten (the newcomer takes its place, size 1) or kept (the
 * newcomer goes to the overflow entry, size 2).
 */
function forgottenUnderPressure(
  setUp: (limiter: AddressLimiter) => void,
  later: number,
  overrides: Partial<AddressLimitSettings> = {},
): boolean {
  let now = 50_000;
  const limiter = new AddressLimiter({ ...settings, maxTrackedAddresses: 1, ...overrides }, () => now);
  setUp(limiter);
  now += later;
  limiter.socketOpened('10.9.9.9');
  return limiter.size === 1;
}

test('under table pressure an entry holding a socket, a connection or a session is kept', () => {
  assert.equal(
    forgottenUnderPressure((l) => l.socketOpened('10.0.0.1'), 60_000),
    false,
    'a socket',
  );
  assert.equal(
    forgottenUnderPressure((l) => l.admit('10.0.0.1'), 60_000),
    false,
    'a connection',
  );
  assert.equal(
    forgottenUnderPressure((l) => l.sessionOpened('10.0.0.1', 's1'), 60_000),
    false,
    'a session',
  );
  assert.equal(
    forgottenUnderPressure((l) => l.socketOpened('10.0.0.1')?.(), 0),
    true,
    'nothing held, buckets full',
  );
});

test('under table pressure an entry is kept until its buckets have refilled (no reset by flooding)', () => {
  // 10 requests a second, a burst of 10: one token spent refills in 100 ms.
  const spendRequest = (l: AddressLimiter) => l.admit('10.0.0.1')();
  assert.equal(forgottenUnderPressure(spendRequest, 50), false, 'half a token short');
  assert.equal(forgottenUnderPressure(spendRequest, 100), true, 'refilled');
  // 60 sessions a minute, a burst of 2: one token spent refills in 1 s.
  const spendSession = (l: AddressLimiter) => void l.openSession('10.0.0.1');
  const sessions = { sessionsPerMinutePerAddress: 60, sessionBurstPerAddress: 2 };
  assert.equal(forgottenUnderPressure(spendSession, 500, sessions), false, 'half a session token short');
  assert.equal(forgottenUnderPressure(spendSession, 1_000, sessions), true, 'refilled');
});

test('a look under table pressure examines a tenth of the table', () => {
  let now = 0;
  const limiter = new AddressLimiter({ ...settings, maxTrackedAddresses: 20 }, () => now);
  for (let i = 0; i < 20; i++) limiter.socketOpened(`10.0.0.${i}`)?.();
  now += 1_000;
  limiter.socketOpened('10.9.9.9');
  assert.equal(limiter.size, 19, 'two of twenty forgotten, the newcomer added');
});
