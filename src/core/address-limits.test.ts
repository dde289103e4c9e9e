import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { AddressLimiter, type AddressLimitSettings } from './address-limits.js';

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
