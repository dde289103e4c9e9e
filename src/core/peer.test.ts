import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import type { IncomingMessage } from 'node:http';
import { TrustedProxies, limitKey, unmapped, type TrustProxy } from './peer.js';
import { SwitchboardError } from './errors.js';

/** What `clientAddress`/`encrypted` read of a request: its socket's peer and its headers. */
function request(
  remoteAddress: string | undefined,
  headers: Record<string, string | string[]> = {},
  encrypted = false,
): IncomingMessage {
  return { socket: { remoteAddress, encrypted }, headers } as unknown as IncomingMessage;
}

function isConfigError(error: unknown): boolean {
  assert.ok(error instanceof SwitchboardError, `not a SwitchboardError: ${String(error)}`);
  assert.equal(error.code, 'SB_ERR_CONFIG');
  assert.ok(error.message.length < 400, 'the message quotes a short prefix at most');
  return true;
}

test('no trustProxy: nothing is trusted, forwarded headers are ignored', () => {
  for (const spec of [undefined, false, []] as const) {
    const proxies = new TrustedProxies(spec);
    assert.equal(proxies.enabled, false);
    assert.equal(proxies.trusts('127.0.0.1'), false);
    const req = request('127.0.0.1', { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' });
    assert.equal(proxies.clientAddress(req), '127.0.0.1');
    assert.equal(proxies.encrypted(req), false);
  }
});

test('trustProxy: true and other non-lists are refused, naming the danger', () => {
  for (const spec of [true, 'loopback', 1, {}]) {
    assert.throws(
      () => new TrustedProxies(spec as unknown as TrustProxy),
      (error: unknown) => {
        assert.ok(error instanceof SwitchboardError);
        assert.equal(error.code, 'SB_ERR_CONFIG');
        assert.match(error.message, /forge its address/);
        return true;
      },
    );
  }
});

test('bad entries are refused: not strings, not addresses, bad prefixes, two slashes', () => {
  const bad = [
    7,
    null,
    'proxy.example',
    '10.0.0.0/33',
    '::1/129',
    '10.0.0.0/-1',
    '10.0.0.0/8.5',
    '10.0.0.0/x',
    '10.0.0.0/8/8',
    '',
    'x'.repeat(500),
  ];
  for (const entry of bad) {
    assert.throws(() => new TrustedProxies([entry] as unknown as string[]), isConfigError, String(entry));
  }
  // The edges of the prefix ranges are accepted.
  for (const entry of ['10.0.0.0/0', '10.0.0.1/32', '::/0', '::1/128']) {
    assert.equal(new TrustedProxies([entry]).enabled, true, entry);
  }
});

test('addresses, CIDR ranges and the names loopback and private', () => {
  const single = new TrustedProxies(['10.1.2.3']);
  assert.equal(single.trusts('10.1.2.3'), true);
  assert.equal(single.trusts('10.1.2.4'), false);
  assert.equal(single.trusts('::ffff:10.1.2.3'), true, 'an IPv4-mapped peer is its IPv4 address');
  assert.equal(single.trusts(undefined), false);
  assert.equal(single.trusts('not an address'), false);

  const range = new TrustedProxies(['172.16.0.0/12']);
  assert.equal(range.trusts('172.31.255.255'), true);
  assert.equal(range.trusts('172.32.0.0'), false);
  assert.equal(range.trusts('172.15.255.255'), false);

  const v6 = new TrustedProxies(['2001:db8::/32']);
  assert.equal(v6.trusts('2001:db8:ffff::1'), true);
  assert.equal(v6.trusts('2001:db9::1'), false);
  assert.equal(new TrustedProxies(['::1']).trusts('::1'), true);
  assert.equal(new TrustedProxies(['::1']).trusts('::2'), false);

  const loopback = new TrustedProxies(['loopback']);
  for (const a of ['127.0.0.1', '127.255.0.9', '::1']) assert.equal(loopback.trusts(a), true, a);
  for (const a of ['128.0.0.1', '10.0.0.1', '::2']) assert.equal(loopback.trusts(a), false, a);

  const priv = new TrustedProxies(['private']);
  for (const a of ['10.9.9.9', '172.16.0.1', '172.31.0.1', '192.168.1.1', 'fd00::1', 'fc00::1']) {
    assert.equal(priv.trusts(a), true, a);
  }
  for (const a of ['11.0.0.1', '172.32.0.1', '192.169.0.1', '127.0.0.1', 'fe00::1']) {
    assert.equal(priv.trusts(a), false, a);
  }
});

test('clientAddress reads X-Forwarded-For right to left, past trusted hops only', () => {
  const proxies = new TrustedProxies(['10.0.0.0/8']);
  // The peer is not a proxy: its own address, whatever it forwards.
  assert.equal(
    proxies.clientAddress(request('203.0.113.1', { 'x-forwarded-for': '1.1.1.1' })),
    '203.0.113.1',
  );
  // A proxy with no header: the proxy itself.
  assert.equal(proxies.clientAddress(request('10.0.0.1')), '10.0.0.1');
  // The nearest untrusted hop wins; what the client prepended is not believed.
  const chain = request('10.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.2' });
  assert.equal(proxies.clientAddress(chain), '198.51.100.7');
  // Every hop trusted: the farthest one.
  assert.equal(
    proxies.clientAddress(request('10.0.0.1', { 'x-forwarded-for': '10.0.0.3, 10.0.0.2' })),
    '10.0.0.3',
  );
  // A malformed or empty hop stops the walk at the last address vouched for.
  assert.equal(
    proxies.clientAddress(request('10.0.0.1', { 'x-forwarded-for': '198.51.100.7, junk' })),
    '10.0.0.1',
  );
  assert.equal(
    proxies.clientAddress(request('10.0.0.1', { 'x-forwarded-for': '198.51.100.7,' })),
    '10.0.0.1',
  );
  assert.equal(
    proxies.clientAddress(request('10.0.0.1', { 'x-forwarded-for': 'junk, 10.0.0.5' })),
    '10.0.0.5',
    'a malformed farther hop leaves the trusted nearer one',
  );
  // Repeated headers are one list, in order.
  assert.equal(
    proxies.clientAddress(request('10.0.0.1', { 'x-forwarded-for': ['6.6.6.6', '198.51.100.8'] })),
    '198.51.100.8',
  );
  // Ports and IPv6 brackets are stripped; mapped addresses unwrapped.
  assert.equal(
    proxies.clientAddress(request('10.0.0.1', { 'x-forwarded-for': '198.51.100.9:4321' })),
    '198.51.100.9',
  );
  assert.equal(
    proxies.clientAddress(request('10.0.0.1', { 'x-forwarded-for': '[2001:db8::5]:443' })),
    '2001:db8::5',
  );
  assert.equal(proxies.clientAddress(request('10.0.0.1', { 'x-forwarded-for': '[2001:db8::6' })), '10.0.0.1');
  assert.equal(
    proxies.clientAddress(request('10.0.0.1', { 'x-forwarded-for': '2001:db8::7' })),
    '2001:db8::7',
  );
  assert.equal(
    proxies.clientAddress(request('::ffff:10.0.0.1', { 'x-forwarded-for': '::ffff:1.2.3.4' })),
    '1.2.3.4',
  );
  assert.equal(proxies.clientAddress(request(undefined)), '');
});

test('clientAddress believes the last 16 hops only', () => {
  const proxies = new TrustedProxies(['10.0.0.0/8']);
  const trusted = Array.from({ length: 15 }, (_, i) => `10.0.1.${i}`);
  // 16 entries: the client's address and 15 trusted hops: reached.
  assert.equal(
    proxies.clientAddress(request('10.0.0.1', { 'x-forwarded-for': ['198.51.100.1', ...trusted].join(',') })),
    '198.51.100.1',
  );
  // 17 entries: the client's address is past the bound; the farthest hop believed is returned.
  assert.equal(
    proxies.clientAddress(
      request('10.0.0.1', { 'x-forwarded-for': ['198.51.100.1', '10.0.2.1', ...trusted].join(',') }),
    ),
    '10.0.2.1',
  );
});

test('encrypted: TLS on the socket, or the last X-Forwarded-Proto of a trusted proxy', () => {
  const none = new TrustedProxies(false);
  assert.equal(none.encrypted(request('127.0.0.1', {}, true)), true);
  assert.equal(none.encrypted(request('127.0.0.1', { 'x-forwarded-proto': 'https' })), false);

  const proxies = new TrustedProxies(['loopback']);
  assert.equal(proxies.encrypted(request('127.0.0.1', { 'x-forwarded-proto': 'https' })), true);
  assert.equal(proxies.encrypted(request('127.0.0.1', { 'x-forwarded-proto': 'WSS' })), true);
  assert.equal(proxies.encrypted(request('127.0.0.1', { 'x-forwarded-proto': 'https, http' })), false);
  assert.equal(proxies.encrypted(request('127.0.0.1', { 'x-forwarded-proto': 'http, https' })), true);
  assert.equal(proxies.encrypted(request('127.0.0.1', { 'x-forwarded-proto': 'http' })), false);
  assert.equal(proxies.encrypted(request('127.0.0.1')), false);
  assert.equal(
    proxies.encrypted(request('10.0.0.1', { 'x-forwarded-proto': 'https' })),
    false,
    'untrusted peer',
  );
});

test('unmapped unwraps IPv4-mapped IPv6 only', () => {
  assert.equal(unmapped('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(unmapped('::ffff:abcd'), '::ffff:abcd');
  assert.equal(unmapped('10.1.2.3'), '10.1.2.3');
  assert.equal(unmapped('2001:db8::1'), '2001:db8::1');
});

test('limitKey: IPv4 as is, IPv6 by its /64 in one spelling', () => {
  assert.equal(limitKey('198.51.100.4'), '198.51.100.4');
  assert.equal(limitKey('::ffff:198.51.100.4'), '198.51.100.4');
  assert.equal(limitKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(
    limitKey('2001:0db8:0001:0002::9'),
    '2001:db8:1:2::/64',
    'leading zeros do not make a new key',
  );
  assert.equal(limitKey('2001:db8:1:2:ffff::'), '2001:db8:1:2::/64');
  assert.equal(limitKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(limitKey('::1'), '0:0:0:0::/64');
  assert.equal(limitKey('fe80::1%eth0'), 'fe80:0:0:0::/64', 'the zone is not part of the key');
  assert.equal(limitKey('64:ff9b::1.2.3.4'), '64:ff9b:0:0::/64');
  assert.equal(limitKey('1:2:3:4:5:6:1.2.3.4'), '1:2:3:4::/64');
  // Groups after "::" that reach into the first 64 bits: the zeros between count them all,
  // an embedded IPv4 address as two.
  assert.equal(limitKey('1::2:3:4:5:6'), '1:0:0:2::/64');
  assert.equal(limitKey('1::2:3:4:5:1.2.3.4'), '1:0:2:3::/64');
  assert.notEqual(limitKey('2001:db8:1:2::1'), limitKey('2001:db8:1:3::1'));
  assert.equal(limitKey('not an address'), 'not an address');
});
