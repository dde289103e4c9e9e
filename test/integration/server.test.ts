/**
 * The server around the hub: attaching to an existing http.Server, batching, the CLI.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { createSwitchboard } from '../../src/index.js';
import { attached, lpioPost, openLpioSession, startServer } from '../helpers/start-server.js';

test('attach() serves our paths on an existing server and keeps its own handler for the rest', async (t) => {
  const http = createServer((_req, res) => res.end('app says hi'));
  const hub = createSwitchboard().attach(http);
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(async () => {
    await hub.close();
    http.closeAllConnections();
    http.close();
  });
  const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  assert.equal(await (await fetch(`${origin}/somewhere`)).text(), 'app says hi');
  const session = await openLpioSession(`${origin}/lpio`);
  assert.equal(typeof session.id, 'string');
  assert.equal((await fetch(`${origin}/healthz`)).status, 200);
});

test('messages published within the batching window arrive in one response, in order', async (t) => {
  const server = await startServer({ settings: { batchWindowMs: 50, holdTimeoutMs: 2000 } });
  t.after(() => server.close());
  const b = await openLpioSession(server.lpioUrl);
  await lpioPost(
    server.lpioUrl,
    { messages: [{ type: 'data', id: 's', channel: '/meta/subscribe', data: '/batch' }] },
    { 'lpio-client': b.id },
  );
  const { reply: held } = await attached(server.server, () =>
    lpioPost(server.lpioUrl, { messages: [] }, { 'lpio-client': b.id }),
  );
  for (let i = 0; i < 5; i++) await server.server.publish('/batch', i);
  const reply = (await held).body;
  assert.deepEqual(
    reply.messages?.map((m) => [m.id, m.data]),
    [0, 1, 2, 3, 4].map((n) => [String(n + 1), n]),
  );
});

test('the CLI says where the demo is and what it serves, serves it, and exits cleanly on SIGTERM', async (t) => {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, 'serve', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+) \(engine: memory\)\n[^]*endpoints:.*\n/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`CLI exited with ${code}: ${output}`)));
  });
  assert.match(output, new RegExp(`demo chat: {2}open ${url}/ in two browser tabs`));
  assert.match(
    output,
    /endpoints: {2}\/lpio \(LPIO long polling\), \/ws \(WebSocket\), \/healthz, \/switchboard\.js/,
  );
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Switchboard demo chat/);
  const bundle = await fetch(`${url}/switchboard.js`);
  assert.equal(bundle.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.match(await bundle.text(), /createClient/);
  assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0);
});

test('the CLI refuses a bad config with a message naming the key', async () => {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, 'serve', '--port', 'nope'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 1);
  assert.match(stderr, /SB_ERR_CONFIG: port must be an integer from 0 to 65535, got "nope"/);
});

test('the CLI in production mode refuses to start without TLS and an auth hook', async (t) => {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const child = spawn(process.execPath, [main, 'serve', '--port', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stderr };
  };
  // An auth module that loads: then TLS is what is missing.
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const authModule = join(dir, 'auth.mjs');
  writeFileSync(authModule, 'export default () => true;\n');
  // Four processes of their own: they run side by side.
  const [flag, env, missing, noTls] = await Promise.all([
    run(['--production']),
    run([], { NODE_ENV: 'production' }),
    run(['--production', '--auth', './no-such-module.js']),
    run(['--production', '--auth', authModule]),
  ]);
  assert.equal(flag.code, 1);
  assert.match(flag.stderr, /SB_ERR_CONFIG: production mode needs an auth hook/);
  assert.equal(env.code, 1, 'NODE_ENV=production alone turns it on');
  assert.match(env.stderr, /production mode needs an auth hook/);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /SB_ERR_CONFIG: cannot load auth module/);
  assert.equal(noTls.code, 1);
  assert.match(noTls.stderr, /SB_ERR_CONFIG: .*TLS/);
});

test('the CLI refuses trustProxy: true and a malformed allowedOrigins entry, naming them', async () => {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-config-'));
  let configs = 0;
  const run = async (config: object) => {
    const file = join(dir, `config-${++configs}.json`);
    writeFileSync(file, JSON.stringify(config));
    const child = spawn(process.execPath, [main, 'serve', '--port', '0', '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stderr };
  };
  try {
    // Three processes of their own, each with its own file: they run side by side.
    const [trustAll, badEntry, origin] = await Promise.all([
      run({ trustProxy: true }),
      run({ trustProxy: ['10.0.0.0/33'] }),
      run({ allowedOrigins: ['https://app.example.com/path'] }),
    ]);
    assert.equal(trustAll.code, 1);
    assert.match(trustAll.stderr, /SB_ERR_CONFIG: trustProxy must list the proxies' addresses/);
    assert.equal(badEntry.code, 1);
    assert.match(badEntry.stderr, /trustProxy entry "10.0.0.0\/33" is not an IP address/);
    assert.equal(origin.code, 1);
    assert.match(
      origin.stderr,
      /allowedOrigins entry "https:\/\/app.example.com\/path" must be a scheme, host/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI says its version, prints its effective config with secrets masked, and words its errors for users', async (t) => {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const child = spawn(process.execPath, [main, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stdout, stderr };
  };
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  // A port that is taken: a plain listener of our own.
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => taken.close());
  const takenPort = (taken.address() as AddressInfo).port;
  const [versionRun, unknown, config, inUse] = await Promise.all([
    run(['--version']),
    run(['serve', '--bogus']),
    run(['serve', '--print-config', '--port', '9000', '--engine', 'redis://app:hunter2@127.0.0.1:6390'], {
      PORT: '7000',
    }),
    run(['serve', '--port', String(takenPort)]),
  ]);
  assert.deepEqual([versionRun.code, versionRun.stdout], [0, `switchboard ${pkg.version}\n`]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^switchboard: unknown option --bogus\n\nusage: switchboard serve/);
  assert.equal(config.code, 0);
  const printed = JSON.parse(config.stdout) as { port: number; engine: { url: string }; settings: object };
  assert.equal(printed.port, 9000, 'the flag over $PORT');
  assert.equal(printed.engine.url, 'redis://app:***@127.0.0.1:6390', 'the password masked');
  assert.ok(!config.stdout.includes('hunter2'));
  assert.ok('maxQueueMessages' in printed.settings, 'every setting, defaults included');
  assert.equal(inUse.code, 1);
  assert.match(
    inUse.stderr,
    new RegExp(
      `port ${takenPort} on 127\\.0\\.0\\.1 is in use: stop what listens there, or choose another port with --port <n>`,
    ),
  );
});
