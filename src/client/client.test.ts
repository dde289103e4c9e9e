/**
 * The SDK's own checks of what an application hands it, before anything reaches the network:
 * options at construction (thrown, SB_ERR_CONFIG) and each send's arguments (rejected, nothing
 * queued). No server: a client is only constructed, never connected.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Client } from './client.js';
import { ClientError } from './errors.js';

function refused(code: string, message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  };
}

const config = (options: Record<string, unknown>) => () =>
  new Client({ url: 'http://127.0.0.1:1/', ...options });

test('options: a url, known transports (one way to give them), an id and positive timings', () => {
  for (const url of [undefined, '', 5]) {
    assert.throws(
      config({ url }),
      refused('SB_ERR_CONFIG', /url must be a non-empty string, got /),
      String(url),
    );
  }
  for (const transports of [[], ['carrier-pigeon'], 'lpio', ['lpio', 'nope']]) {
    assert.throws(
      config({ transports }),
      refused('SB_ERR_CONFIG', /^transports must name some of websocket, lpio, got /),
      JSON.stringify(transports),
    );
  }
  assert.throws(config({ transport: 'nope' }), refused('SB_ERR_CONFIG', /got \["nope"\]/));
  assert.throws(
    config({ transport: 'lpio', transports: ['lpio'] }),
    refused('SB_ERR_CONFIG', /^give transport or transports, not both$/),
  );
  for (const id of ['', 5, null]) {
    assert.throws(
      config({ id }),
      refused('SB_ERR_CONFIG', /^id must be a non-empty string, got /),
      String(id),
    );
  }
  for (const name of [
    'ackTimeout',
    'deliveryTimeout',
    'maxPending',
    'maxPendingBytes',
    'responseTimeout',
    'batchWindow',
  ]) {
    for (const value of [-1, Number.NaN, Infinity, '5']) {
      assert.throws(
        config({ [name]: value }),
        refused('SB_ERR_CONFIG', new RegExp(`^${name} must be a finite number > 0, got ${String(value)}$`)),
        `${name} ${String(value)}`,
      );
    }
  }
  assert.throws(config({ ackTimeout: 0 }), refused('SB_ERR_CONFIG', /ackTimeout/));
  assert.throws(config({ maxPending: 0 }), refused('SB_ERR_CONFIG', /maxPending/));
  assert.throws(
    config({ probe: { min: -1, max: 5 } }),
    refused('SB_ERR_CONFIG', /^probe\.min must be a finite number > 0, got -1$/),
  );
  assert.throws(config({ responseTimeout: 0 }), refused('SB_ERR_CONFIG', /responseTimeout/));
  // A batch window of 0 sends at once; the others need time to pass.
  const fine = new Client({ url: 'http://127.0.0.1:1/', batchWindow: 0, ackTimeout: 1, responseTimeout: 1 });
  assert.equal(fine.transport, 'lpio', 'lpio unless told otherwise');
  assert.equal(
    new Client({ url: 'http://127.0.0.1:1/', transports: ['lpio', 'websocket'] }).transport,
    'lpio',
  );
  assert.equal(new Client({ url: 'http://127.0.0.1:1/', id: 'mine' }).state, 'disconnected');
});

test('send: refused at once, with a code, for what cannot be sent', async () => {
  const client = new Client({ url: 'http://127.0.0.1:1/' });
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const cases: Array<[unknown, Record<string, string>, string, RegExp]> = [
    [undefined, {}, 'SB_ERR_BAD_MESSAGE', /^data must not be undefined$/],
    ['x', { path: '/a', to: 'someone' }, 'SB_ERR_BAD_MESSAGE', /^give path or to, not both$/],
    ['x', { path: 'a' }, 'SB_ERR_BAD_PATH', /^path must start with "\/", got "a"$/],
    ['x', { to: '' }, 'SB_ERR_BAD_MESSAGE', /^to must be an address, got ""$/],
    ['x', { to: '/a' }, 'SB_ERR_BAD_MESSAGE', /^to must be an address, got "\/a"$/],
    [circular, {}, 'SB_ERR_BAD_MESSAGE', /^data cannot be serialized to JSON$/],
    [() => 1, {}, 'SB_ERR_BAD_MESSAGE', /^data has no JSON form$/],
    ['x'.repeat(65_535), {}, 'SB_ERR_PAYLOAD_TOO_LARGE', /over the server's limit of 65536 bytes/],
    ['é'.repeat(32_768), {}, 'SB_ERR_PAYLOAD_TOO_LARGE', /65536/],
  ];
  for (const [data, options, code, message] of cases) {
    await assert.rejects(
      client.send(data, options),
      refused(code, message),
      `${code} ${JSON.stringify(options)}`,
    );
  }
  assert.deepEqual(client.messages(), [], 'nothing refused was queued');
  // The JSON error is kept as the cause; the error says what it is.
  const error = await client.send(circular).catch((e: unknown) => e);
  assert.ok(error instanceof ClientError);
  assert.equal(error.name, 'ClientError');
  assert.ok(error.cause instanceof TypeError, String(error.cause));
  assert.equal(error.status, undefined);
});

test('ids and timeouts: numbered in order, subscribe and unsubscribe unlisted, a delivery timeout names both', async () => {
  // Never connected: nothing is sent, so every message waits out its delivery timeout.
  const client = new Client({ url: 'http://127.0.0.1:1/', ackTimeout: 1, deliveryTimeout: 1 });
  const changes: Array<[string, string]> = [];
  client.on('messageState', (change) => changes.push([change.id, change.state]));
  const subscribed = client.subscribe('/a');
  const unsubscribed = client.unsubscribe('/a');
  assert.deepEqual(client.messages(), [], 'subscribe and unsubscribe are not the application’s messages');
  const sent = client.send('x');
  const [listed, ...more] = client.messages();
  assert.deepEqual(more, []);
  assert.ok(listed, 'the send is listed');
  // One counter for every message the client sends, meta ones included: this is the third.
  const prefix = listed.id.replace(/-3$/, '');
  assert.match(prefix, /^\d+$/, listed.id);
  assert.equal(listed.state, 'unsent');
  assert.equal(listed.attempts, 0);
  const timedOut = (n: number) =>
    refused('SB_ERR_DELIVERY_TIMEOUT', new RegExp(`^no ack for message ${prefix}-${n} within 1 ms$`));
  await assert.rejects(subscribed, timedOut(1));
  await assert.rejects(unsubscribed, timedOut(2));
  await assert.rejects(sent, timedOut(3));
  assert.deepEqual(changes, [
    [listed.id, 'unsent'],
    [listed.id, 'dropped'],
  ]);
  assert.deepEqual(
    client.messages().map((m) => [m.id, m.state]),
    [[listed.id, 'dropped']],
    'a finished send stays listed; finished meta messages do not',
  );
  const other = new Client({ url: 'http://127.0.0.1:1/', deliveryTimeout: 1 });
  const next = other.send('y');
  assert.notEqual(other.messages()[0]?.id.replace(/-1$/, ''), prefix, 'each client its own random prefix');
  await assert.rejects(next, { code: 'SB_ERR_DELIVERY_TIMEOUT' });
});

test('a handler that throws is reported as SB_ERR_HANDLER with its error; an error handler that throws is not', async () => {
  const client = new Client({ url: 'http://127.0.0.1:1/', deliveryTimeout: 1 });
  const errors: ClientError[] = [];
  let throwOnce = true;
  client.on('error', () => {
    if (!throwOnce) return;
    throwOnce = false;
    throw new Error('the error handler broke');
  });
  client.on('error', (error) => errors.push(error));
  const boom = new Error('boom');
  client.on('messageState', () => {
    throw boom;
  });
  const sent = client.send('x');
  assert.equal(errors.length, 1, errors.map((e) => e.message).join('; '));
  const [reported] = errors;
  assert.ok(reported);
  assert.equal(reported.code, 'SB_ERR_HANDLER');
  assert.equal(reported.message, "a 'messageState' handler threw");
  assert.equal(reported.cause, boom);
  // The throw did not stop the send: it goes on to its own end.
  await assert.rejects(sent, { code: 'SB_ERR_DELIVERY_TIMEOUT' });
  assert.deepEqual(
    errors.map((e) => e.message),
    ["a 'messageState' handler threw", "a 'messageState' handler threw"],
    'the drop’s messageState threw too; the error handler’s own throw was not reported',
  );
});

test('a transport that cannot run here is skipped; only when none can is it an error, saying why', (t) => {
  // As on Node 20: no WebSocket of its own.
  const g = globalThis as { WebSocket?: unknown };
  const own = g.WebSocket;
  delete g.WebSocket;
  t.after(() => {
    if (own !== undefined) g.WebSocket = own;
  });
  const both = new Client({ url: 'http://127.0.0.1:1/', transports: ['websocket', 'lpio'] });
  assert.equal(both.transport, 'lpio', 'websocket skipped, lpio taken');
  assert.throws(
    config({ transports: ['websocket'] }),
    refused(
      'SB_ERR_CONFIG',
      /^no transport can run here: websocket needs a WebSocket class \(pass options\.WebSocket, e\.g\. the ws package's\)$/,
    ),
  );
  assert.throws(config({ transport: 'websocket' }), refused('SB_ERR_CONFIG', /^no transport can run here/));
  class FakeSocket {
    readyState = 0;
    onopen = null;
    onmessage = null;
    onclose = null;
    onerror = null;
    send(): void {}
    close(): void {}
  }
  assert.equal(
    new Client({ url: 'http://127.0.0.1:1/', transports: ['websocket', 'lpio'], WebSocket: FakeSocket })
      .transport,
    'websocket',
    'a class passed in counts',
  );
});
