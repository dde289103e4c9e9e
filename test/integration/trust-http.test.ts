/**
 * The HTTP layer's defences, for every protocol at once, against a real server on loopback:
 * stalled bodies and upgrades (issue 16 item 2), what one client address may create and hold
 * (item 3), the Origin policy against cross-site WebSocket hijacking (item 6), and forwarded
 * headers believed only from configured proxies (item 8). Attackers and bystanders are different
 * 127.x source addresses.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { createSwitchboard } from '../../src/index.js';
import { lpioFrom, rawSocket, readUntilClosed, send, UPGRADE_REQUEST } from '../helpers/from-address.js';
import { attached, serve } from '../helpers/start-server.js';
import { eventually } from '../helpers/until.js';
import { RawWsClient } from '../helpers/ws-client.js';

const portOf = (origin: string) => Number(new URL(origin).port);
const codeOf = (answer: { json: Record<string, unknown> | undefined }) =>
  (answer.json?.error as { code?: string } | undefined)?.code;

/** A stalled request: headers saying 100 bytes of body, then 10 of them, then nothing. */
async function stalledBody(from: string, port: number) {
  const socket = await rawSocket(from, port);
  socket.write(
    'POST /lpio HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"message',
  );
  return socket;
}

test('a request body that stalls is answered 408 SB_ERR_REQUEST_TIMEOUT and its socket closed', async (t) => {
  const server = await serve(t, { settings: { bodyTimeoutMs: 300 } });
  const socket = await stalledBody('127.0.0.1', portOf(server.origin));
  const { text, closed } = await readUntilClosed(socket, 10_000);
  assert.equal(closed, true, 'the server closed the socket');
  assert.match(text, /^HTTP\/1\.1 408 /);
  assert.match(text, /"code":"SB_ERR_REQUEST_TIMEOUT"/);
  assert.match(text, /connection: close/i);
});

test('1,100 stalled bodies from one address do not lock out another (sockets per address, body timeout)', async (t) => {
  // The server's clock stands still until the test moves it: no body times out while the
  // attacker is still connecting, however long that takes, and all do once it moves.
  let clock = 1_000_000;
  const server = await serve(t, { now: () => clock, settings: { bodyTimeoutMs: 300 } });
  const port = portOf(server.origin);
  // Each socket is watched from the moment it connects: a refused one closes at once.
  const attempts = await Promise.allSettled(
    Array.from({ length: 1_100 }, async () => {
      const socket = await stalledBody('127.0.0.2', port);
      return { socket, end: readUntilClosed(socket, 15_000) };
    }),
  );
  const stalled = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
  const sockets = stalled.map((s) => s.socket);
  t.after(() => sockets.forEach((s) => s.destroy()));
  const ends = stalled.map((s) => s.end);
  // Past maxSocketsPerAddress (256) the attacker's connections are refused as they are accepted.
  const refused = async () => (await server.server.stats()).addressLimits.refused.sockets;
  await eventually(async () => (await refused()) >= sockets.length - 256, 'the refusals');
  assert.equal(await refused(), sockets.length - 256, 'all but 256 were refused');
  // Meanwhile a bystander is served: a health check and a new session.
  const health = await send('127.0.0.1', `${server.origin}/healthz`, { method: 'GET' });
  assert.equal(health.status, 200);
  const opened = await lpioFrom('127.0.0.3', server.lpioUrl, {});
  assert.equal(opened.status, 200);
  assert.equal(typeof (opened.json?.set as { id?: unknown } | undefined)?.id, 'string');
  // And the 256 held go at the body timeout, with a 408.
  clock += 300;
  const results = await Promise.all(ends);
  const open = results.filter((e) => !e.closed);
  assert.equal(
    open.length,
    0,
    `every stalled socket was closed; open: ${JSON.stringify(open[0]?.text.slice(0, 300))}`,
  );
  assert.equal(results.filter((e) => /^HTTP\/1\.1 408 /.test(e.text)).length, 256);
});

test('a held long poll is not cut by the body timeout: it ends with its hold timeout', async (t) => {
  const server = await serve(t, { settings: { bodyTimeoutMs: 100, holdTimeoutMs: 400 } });
  const { json } = await lpioFrom('127.0.0.1', server.lpioUrl, {});
  const id = (json?.set as { id: string }).id;
  const poll = await lpioFrom('127.0.0.1', server.lpioUrl, { messages: [] }, { 'lpio-client': id });
  assert.equal(poll.status, 200);
  assert.deepEqual(poll.json, { state: 0, messages: [] }, 'state 0, no 408');
  assert.equal((await server.server.stats()).counters.hold_timeouts, 1, 'the hold timeout answered it');
});

test('an upgrade that never completes (its auth hook hangs) is answered 408 and closed', async (t) => {
  const server = await serve(t, {
    settings: { bodyTimeoutMs: 300 },
    auth: () => new Promise<boolean>(() => undefined),
  });
  await assert.rejects(
    RawWsClient.open(`${server.origin.replace('http', 'ws')}/ws`),
    (error: { status?: number; body?: string }) => {
      assert.equal(error.status, 408);
      assert.match(error.body ?? '', /SB_ERR_REQUEST_TIMEOUT/);
      assert.match(error.body ?? '', /the upgrade did not complete in time/);
      return true;
    },
  );
});

test('a client that keeps its socket after the 408 of a stalled upgrade loses it: its socket slot comes back', async (t) => {
  const server = await serve(t, {
    settings: { bodyTimeoutMs: 300, maxSocketsPerAddress: 1 },
    auth: () => new Promise<boolean>(() => undefined),
  });
  const port = portOf(server.origin);
  const socket = await rawSocket('127.0.0.4', port, true);
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  const answered = new Promise((resolve) => socket.once('end', resolve));
  socket.write(UPGRADE_REQUEST);
  await answered;
  assert.match(text, /^HTTP\/1\.1 408 /);
  // This socket is never ended here: the server must let it go by itself, or the address's one
  // socket slot stays taken. A refused connection is destroyed at once (send rejects): try again.
  const health = () =>
    send('127.0.0.4', `${server.origin}/healthz`, { method: 'GET' }).then(
      (answer) => answer.status === 200,
      () => false,
    );
  try {
    await eventually(health, 'the socket slot to come back', 5_000);
    assert.equal(socket.destroyed, false, 'the client side was kept open throughout');
  } finally {
    // Before the server's close, which would otherwise wait for it.
    socket.destroy();
  }
});

test('one address creating sessions is answered 429 with Retry-After; another address is still served', async (t) => {
  // The limiter's clock is ours: nothing refills unless the test moves it.
  let clock = 1_000_000;
  const server = await serve(t, {
    now: () => clock,
    settings: { sessionsPerMinutePerAddress: 60, sessionBurstPerAddress: 5 },
  });
  const answers = [];
  for (let i = 0; i < 20; i++) answers.push(await lpioFrom('127.0.0.2', server.lpioUrl, {}));
  assert.deepEqual(
    answers.map((a) => a.status),
    [...Array<number>(5).fill(200), ...Array<number>(15).fill(429)],
    'the burst of 5, then refusals',
  );
  const limited = answers[5] as (typeof answers)[0];
  assert.equal(codeOf(limited), 'SB_ERR_RATE_LIMITED');
  assert.equal(limited.headers['retry-after'], '1', 'one new session a second');
  // As Retry-After says: a second later there is room for one more.
  clock += 1_000;
  assert.equal((await lpioFrom('127.0.0.2', server.lpioUrl, {})).status, 200);
  assert.equal((await lpioFrom('127.0.0.2', server.lpioUrl, {})).status, 429);
  // WebSocket sessions count against the same budget.
  const ws = await RawWsClient.open(
    `${server.origin.replace('http', 'ws')}/ws`,
    {},
    { localAddress: '127.0.0.2' },
  );
  t.after(() => ws.close());
  ws.send({ type: 'hello' });
  assert.equal((await ws.next('error')).code, 'SB_ERR_RATE_LIMITED');
  // The bystander opens sessions and talks as usual.
  const bystander = await lpioFrom('127.0.0.3', server.lpioUrl, {});
  assert.equal(bystander.status, 200);
});

test('a flood of session requests cannot take maxSessions: other addresses are served during and after it', async (t) => {
  // Default limits; a small engine so a flood without them would fill it within the test.
  const server = await serve(t, { settings: { maxSessions: 500 } });
  const flood = (async () => {
    let created = 0;
    for (let round = 0; round < 20; round++) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, () => lpioFrom('127.0.0.2', server.lpioUrl, {})),
      );
      created += batch.filter((a) => a.status === 200).length;
    }
    return created;
  })();
  const during = await lpioFrom('127.0.0.3', server.lpioUrl, {});
  const created = await flood;
  const after = await lpioFrom('127.0.0.4', server.lpioUrl, {});
  assert.equal(during.status, 200, 'served during the flood');
  assert.equal(after.status, 200, 'served after the flood');
  assert.ok(created < 500, `the flood got ${created} of 1,000 sessions, not the engine's 500`);
});

test('requests per second per address: the excess is answered 429 with Retry-After', async (t) => {
  // The limiter's clock is ours: nothing refills unless the test moves it.
  let clock = 1_000_000;
  const server = await serve(t, {
    now: () => clock,
    settings: { requestsPerSecondPerAddress: 5, requestBurstPerAddress: 5 },
  });
  const answers = await Promise.all(
    Array.from({ length: 12 }, () => lpioFrom('127.0.0.2', server.lpioUrl, {})),
  );
  const limited = answers.filter((a) => a.status === 429);
  assert.equal(limited.length, 7, 'all but the burst of 5 were refused');
  assert.equal(codeOf(limited[0] as (typeof answers)[0]), 'SB_ERR_RATE_LIMITED');
  assert.equal((limited[0] as (typeof answers)[0]).headers['retry-after'], '1');
  assert.equal((await lpioFrom('127.0.0.3', server.lpioUrl, {})).status, 200);
  const stats = await server.server.stats();
  assert.equal(stats.addressLimits.refused.requests, limited.length);
  // A fifth of a second refills one request at 5 a second.
  clock += 200;
  assert.equal((await lpioFrom('127.0.0.2', server.lpioUrl, {})).status, 200);
  assert.equal((await lpioFrom('127.0.0.2', server.lpioUrl, {})).status, 429);
});

test('behind a trusted proxy the forwarded address is the client: its held connections are limited, others not', async (t) => {
  const server = await serve(t, {
    trustProxy: ['127.0.0.1'],
    settings: { maxConnectionsPerAddress: 2, holdTimeoutMs: 2_000 },
  });
  const open = async (client: string) => {
    const { json } = await lpioFrom('127.0.0.1', server.lpioUrl, {}, { 'x-forwarded-for': client });
    return (json?.set as { id: string }).id;
  };
  const ids = [await open('203.0.113.7'), await open('203.0.113.7'), await open('203.0.113.7')];
  const poll = (id: string) => () =>
    lpioFrom('127.0.0.1', server.lpioUrl, {}, { 'x-forwarded-for': '203.0.113.7', 'lpio-client': id });
  // Two polls held: each holds a connection slot of the client's address.
  const held = [
    (await attached(server.server, poll(ids[0] as string))).reply,
    (await attached(server.server, poll(ids[1] as string))).reply,
  ];
  const third = await lpioFrom(
    '127.0.0.1',
    server.lpioUrl,
    {},
    {
      'x-forwarded-for': '203.0.113.7',
      'lpio-client': ids[2] as string,
    },
  );
  assert.equal(third.status, 429, 'a third held poll of the same client is refused');
  const other = await lpioFrom('127.0.0.1', server.lpioUrl, {}, { 'x-forwarded-for': '203.0.113.8' });
  assert.equal(other.status, 200, 'another client behind the same proxy is served');
  // The held ones were served all along: a message ends each.
  for (const id of ids.slice(0, 2)) await server.server.send(id, 'done');
  const answers = await Promise.all(held);
  assert.deepEqual(
    answers.map((a) => [a.status, (a.json?.messages as Array<{ data?: unknown }> | undefined)?.[0]?.data]),
    [
      [200, 'done'],
      [200, 'done'],
    ],
  );
});

test('a forwarded address from an untrusted peer is ignored: the auth hook sees the socket address', async (t) => {
  const seen: Array<string | undefined> = [];
  const server = await serve(t, {
    trustProxy: ['127.0.0.1'],
    auth: (request) => {
      seen.push(request.remoteAddress);
      return true;
    },
  });
  const warnings: string[] = [];
  server.server.on('warning', (error) => warnings.push(error.message));
  await lpioFrom('127.0.0.2', server.lpioUrl, {}, { 'x-forwarded-for': '198.51.100.1' });
  await lpioFrom('127.0.0.1', server.lpioUrl, {}, { 'x-forwarded-for': '198.51.100.2, 127.0.0.5' });
  // A client that prepends many forged hops cannot push the one the proxy appended out of reach.
  const forged = Array.from({ length: 100 }, (_, i) => `192.0.2.${i}`).join(', ');
  await lpioFrom('127.0.0.1', server.lpioUrl, {}, { 'x-forwarded-for': `${forged}, 203.0.113.77` });
  // Ports on hops (some proxies write them) are not part of the address.
  await lpioFrom('127.0.0.1', server.lpioUrl, {}, { 'x-forwarded-for': '203.0.113.78:4711' });
  assert.deepEqual(seen, ['127.0.0.2', '127.0.0.5', '203.0.113.77', '203.0.113.78']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] as string, /^requests from 127\.0\.0\.2 carry X-Forwarded-For/);
});

test('sockets per address: past the limit a peer is refused, another peer is not', async (t) => {
  const server = await serve(t, { settings: { maxSocketsPerAddress: 3 } });
  const port = portOf(server.origin);
  const sockets = await Promise.all([1, 2, 3, 4].map(() => rawSocket('127.0.0.2', port)));
  t.after(() => sockets.forEach((s) => s.destroy()));
  const fourth = await readUntilClosed(sockets[3] as (typeof sockets)[0], 2_000);
  assert.equal(fourth.closed, true, 'the fourth socket was closed');
  assert.equal((await send('127.0.0.3', `${server.origin}/healthz`, { method: 'GET' })).status, 200);
  assert.equal((await server.server.stats()).addressLimits.refused.sockets, 1);
});

test('cross-site WebSocket hijacking: an upgrade from a foreign page origin is refused 403 SB_ERR_BAD_ORIGIN', async (t) => {
  const server = await serve(t, { allowedOrigins: ['https://app.example.com'] });
  const wsUrl = `${server.origin.replace('http', 'ws')}/ws`;
  await assert.rejects(
    RawWsClient.open(wsUrl, { origin: 'https://evil.example' }),
    (error: { status?: number; body?: string }) => {
      assert.equal(error.status, 403);
      assert.match(error.body ?? '', /SB_ERR_BAD_ORIGIN/);
      return true;
    },
  );
  for (const origin of [server.origin, 'https://app.example.com', undefined]) {
    const { client, welcome } = await RawWsClient.connect(wsUrl, {}, origin === undefined ? {} : { origin });
    t.after(() => client.close());
    assert.equal(welcome.type, 'welcome', `allowed: ${origin ?? 'no Origin'}`);
  }
});

test('HTTP protocol requests follow the same Origin list; CORS answers listed origins only', async (t) => {
  const server = await serve(t, { allowedOrigins: ['https://app.example.com'] });
  const evil = await lpioFrom('127.0.0.1', server.lpioUrl, {}, { origin: 'https://evil.example' });
  assert.equal(evil.status, 403);
  assert.equal(codeOf(evil), 'SB_ERR_BAD_ORIGIN');
  const listed = await lpioFrom('127.0.0.1', server.lpioUrl, {}, { origin: 'https://app.example.com' });
  assert.equal(listed.status, 200);
  assert.equal(listed.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(listed.headers['access-control-allow-credentials'], 'true');
  const preflight = await send('127.0.0.1', server.lpioUrl, {
    method: 'OPTIONS',
    headers: {
      origin: 'https://app.example.com',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, lpio-client',
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers['access-control-allow-headers'], 'content-type, lpio-client');
  const evilPreflight = await send('127.0.0.1', server.lpioUrl, {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(evilPreflight.status, 403);
  const same = await lpioFrom('127.0.0.1', server.lpioUrl, {}, { origin: server.origin });
  assert.equal(same.status, 200);
  assert.equal(same.headers['access-control-allow-origin'], undefined, 'same origin needs no CORS');
  assert.throws(() => createSwitchboard({ allowedOrigins: ['https://app.example.com/path'] }), {
    code: 'SB_ERR_CONFIG',
  });
});

test('requests Node cannot parse get a JSON error with a code, and the node stays up', async (t) => {
  const server = await serve(t);
  const socket = await rawSocket('127.0.0.1', portOf(server.origin));
  socket.write('GARBAGE / HTTP/1.1\r\n\r\n');
  const { text } = await readUntilClosed(socket, 5_000);
  assert.match(text, /^HTTP\/1\.1 400 /);
  assert.match(text, /"code":"SB_ERR_BAD_REQUEST"/);
  const big = await rawSocket('127.0.0.1', portOf(server.origin));
  big.write(`GET /healthz HTTP/1.1\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`);
  const answer = await readUntilClosed(big, 5_000);
  assert.match(answer.text, /^HTTP\/1\.1 431 /);
  assert.match(answer.text, /SB_ERR_HEADERS_TOO_LARGE/);
  assert.equal((await send('127.0.0.1', `${server.origin}/healthz`, { method: 'GET' })).status, 200);
});

test('forwarded headers from a proxy not in trustProxy are ignored, and the operator is told once', async (t) => {
  const server = await serve(t);
  const warnings: string[] = [];
  server.server.on('warning', (error) => warnings.push(`${error.code}: ${error.message}`));
  for (let i = 0; i < 3; i++)
    await lpioFrom('127.0.0.1', server.lpioUrl, {}, { 'x-forwarded-for': '203.0.113.9' });
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0] as string,
    /^SB_ERR_CONFIG: requests from 127\.0\.0\.1 carry X-Forwarded-For, but 127\.0\.0\.1 is not in trustProxy/,
  );
  // Ignored: the three sessions count against the socket's address, not the forwarded one.
  assert.equal(server.server.addressLimits.heldBy('127.0.0.1', 16).length, 3);
  assert.deepEqual(server.server.addressLimits.heldBy('203.0.113.9', 16), []);
});

test('what one address holds in sessions is bounded: past maxSessionsPerAddress, 429 until some close', async (t) => {
  const server = await serve(t, { settings: { maxSessionsPerAddress: 3 } });
  const open = () => lpioFrom('127.0.0.2', server.lpioUrl, {});
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(((await open()).json?.set as { id: string }).id);
  const fourth = await open();
  assert.equal(fourth.status, 429);
  assert.equal(codeOf(fourth), 'SB_ERR_RATE_LIMITED');
  assert.match(
    String((fourth.json?.error as { message?: string }).message),
    /holds its maximum of 3 sessions/,
  );
  assert.equal(
    (await lpioFrom('127.0.0.3', server.lpioUrl, {})).status,
    200,
    'another address is not affected',
  );
  await server.server.closeSession(ids[0] as string);
  assert.equal((await open()).status, 200, 'a closed session makes room');
  // A session gone without this node hearing of it (lost with an engine's data) stops counting
  // once the address is at its maximum and asks again.
  server.server.addressLimits.sessionOpened('127.0.0.4', 'gone-1');
  server.server.addressLimits.sessionOpened('127.0.0.4', 'gone-2');
  server.server.addressLimits.sessionOpened('127.0.0.4', 'gone-3');
  assert.equal((await lpioFrom('127.0.0.4', server.lpioUrl, {})).status, 200);
});

test('CORS preflights of a listed origin count against the address limits like any request', async (t) => {
  const clock = 1_000_000; // the limiter's clock stands still: nothing refills during the test
  const server = await serve(t, {
    now: () => clock,
    allowedOrigins: ['https://app.example.com'],
    settings: { requestsPerSecondPerAddress: 1, requestBurstPerAddress: 3 },
  });
  const preflight = () =>
    send('127.0.0.2', server.lpioUrl, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
  const answers = await Promise.all([1, 2, 3, 4, 5].map(() => preflight()));
  assert.deepEqual(answers.map((a) => a.status).sort(), [204, 204, 204, 429, 429]);
});
