/**
 * Production mode (seed 002: "the server must not accept connections that are not encrypted and
 * authenticated"): it refuses to start without an auth hook or TLS, is forced on by
 * NODE_ENV=production, serves wss:// with a real (self-signed) certificate, and refuses plaintext
 * upgrades and requests, also behind a trusted TLS-terminating proxy that does not vouch for them.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createSwitchboard, type AuthHook } from '../../src/index.js';
import { lpioFrom } from '../helpers/from-address.js';
import { RawWsClient } from '../helpers/ws-client.js';

let tls: { key: string; cert: string };
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchboard-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  tls = {
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
  };
});
after(() => rmSync(dir, { recursive: true, force: true }));

const auth: AuthHook = (req) => (req.headers.authorization === 'Bearer ok' ? { user: 'u1' } : false);

test('production mode refuses to start without an auth hook or without TLS', () => {
  assert.throws(() => createSwitchboard({ production: true, tls }), {
    code: 'SB_ERR_CONFIG',
    message: /auth hook/,
  });
  assert.throws(() => createSwitchboard({ production: true, auth }), {
    code: 'SB_ERR_CONFIG',
    message: /TLS/,
  });
  // A TLS-terminating proxy it trusts stands in for TLS (what it then refuses: the test below).
  assert.doesNotThrow(() => createSwitchboard({ production: true, auth, trustProxy: ['127.0.0.1'] }));
  assert.throws(() => createSwitchboard({ production: true, auth, trustProxy: true as never }), {
    code: 'SB_ERR_CONFIG',
    message: /trustProxy must list the proxies/,
  });
  const plain = createSwitchboard({ production: true, auth, tls });
  assert.throws(() => plain.attach(createServer()), { code: 'SB_ERR_CONFIG', message: /https.Server/ });
});

test('NODE_ENV=production turns production mode on, and production: false cannot turn it off', () => {
  const saved = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    assert.throws(() => createSwitchboard({ production: false }), { code: 'SB_ERR_CONFIG' });
  } finally {
    if (saved === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = saved;
  }
  assert.equal(createSwitchboard().production, false);
});

test('wss:// with a self-signed certificate: authenticated clients get in, others get 403', async (t) => {
  const hub = createSwitchboard({ production: true, auth, tls });
  const address = await hub.listen({ port: 0 });
  t.after(() => hub.close());
  const url = `wss://127.0.0.1:${address.port}/ws`;
  const options = { ca: tls.cert };
  await assert.rejects(RawWsClient.open(url, {}, options), { status: 403 });
  const { client, welcome } = await RawWsClient.connect(url, {}, { authorization: 'Bearer ok' }, options);
  t.after(() => client.close());
  assert.equal(welcome.type, 'welcome');
  assert.equal((await hub.session(welcome.session as string))?.user, 'u1');

  const lpio = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest(
      `https://127.0.0.1:${address.port}/lpio`,
      {
        method: 'POST',
        ca: tls.cert,
        headers: { 'content-type': 'application/json', authorization: 'Bearer ok' },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
  assert.equal(lpio, 200, 'LPIO over HTTPS works too');
});

test('behind a trusted proxy: only requests the proxy marks as https get through', async (t) => {
  const hub = createSwitchboard({ production: true, auth, trustProxy: ['127.0.0.1'] });
  const server: Server = createServer();
  hub.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await hub.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const origin = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const headers = { authorization: 'Bearer ok' };
  await assert.rejects(
    RawWsClient.open(`ws://${origin}/ws`, headers),
    (error: { status?: number; body?: string }) => {
      assert.equal(error.status, 403);
      assert.equal(
        (JSON.parse(error.body ?? '') as { error: { code: string } }).error.code,
        'SB_ERR_TLS_REQUIRED',
      );
      return true;
    },
  );
  const post = await fetch(`http://${origin}/lpio`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(post.status, 403);
  assert.equal(((await post.json()) as { error: { code: string } }).error.code, 'SB_ERR_TLS_REQUIRED');
  const health = await fetch(`http://${origin}/healthz`);
  assert.equal(health.status, 200, 'health checks stay plain for the load balancer');

  const { client, welcome } = await RawWsClient.connect(
    `ws://${origin}/ws`,
    {},
    { ...headers, 'x-forwarded-proto': 'https' },
  );
  t.after(() => client.close());
  assert.equal(welcome.type, 'welcome');

  // The same header from any other address is a client's own claim: refused.
  const forged = await lpioFrom(
    '127.0.0.2',
    `http://${origin}/lpio`,
    {},
    { ...headers, 'x-forwarded-proto': 'https' },
  );
  assert.equal(forged.status, 403);
  assert.equal((forged.json?.error as { code?: string }).code, 'SB_ERR_TLS_REQUIRED');
  const proxied = await lpioFrom(
    '127.0.0.1',
    `http://${origin}/lpio`,
    {},
    { ...headers, 'x-forwarded-proto': 'https' },
  );
  assert.equal(proxied.status, 200);
});
