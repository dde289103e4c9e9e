/**
 * The SDK's LPIO transport against a server that answers badly: an HTTP error with and without a
 * coded body, a body that is not JSON or not an object, a whole request refused (state 2), an
 * unknown state. A real node:http server on loopback plays that server; each answer is scripted.
 * The client reports each as an error with a code, keeps what it was sending, and goes on.
 */
import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createClient, type ClientError } from '../../src/client/index.js';
import { until } from '../helpers/until.js';
import { readAll } from '../helpers/read-all.js';

interface Answer {
  readonly status?: number;
  readonly body: string;
}

const json = (value: unknown): Answer => ({ body: JSON.stringify(value) });
const ID = 'bad-server-session-4Jk9x2mQ8vL7rT4wZ1aB';

test('bad answers are errors with codes; what was being sent is kept, refused only when the server says so', async (t) => {
  const script: Answer[] = [
    json({
      state: 1,
      messages: [{ type: 'option', id: 'client', data: ID }],
      set: { id: ID, address: 'addr' },
    }),
    {
      status: 503,
      body: JSON.stringify({ error: { code: 'SB_ERR_ENGINE_UNAVAILABLE', message: 'the store is away' } }),
    },
    { status: 502, body: 'Bad Gateway' },
    { body: '<html>' },
    { body: 'null' },
    json({ state: 7, messages: [] }),
    json({ state: 2, error: 'Bad messages.', code: 'SB_ERR_BAD_MESSAGE', messages: [] }),
  ];
  const requests: unknown[] = [];
  const server = createServer((req, res) => {
    void readAll(req).then((text) => {
      requests.push(JSON.parse(text) as unknown);
      // Past the script: hold the poll until the test ends (a quiet server).
      const answer = script.shift();
      if (!answer) return;
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  const client = createClient({
    url: `http://127.0.0.1:${port}/lpio`,
    transport: 'lpio',
    backoff: { min: 5, max: 20, jitter: 0 },
    ackTimeout: 60_000,
  });
  t.after(() => client.disconnect());
  const errors: Array<[string, number | undefined, string]> = [];
  client.on('error', (error: ClientError) => errors.push([error.code, error.status, error.message]));
  client.connect();
  await until(() => client.state === 'connected', 'connected');
  const sent = client.send('kept');
  const outcome = sent.then(
    () => 'delivered',
    (error: ClientError) => [error.code, error.status, error.message],
  );
  await until(() => script.length === 0, 'every scripted answer');
  // Refused by the state 2 answer, not before; reported by the promise, not as an error too.
  assert.deepEqual(await outcome, ['SB_ERR_BAD_MESSAGE', 200, 'Bad messages.']);
  assert.deepEqual(
    errors.map(([code, status]) => [code, status]),
    [
      ['SB_ERR_ENGINE_UNAVAILABLE', 503],
      ['SB_ERR_HTTP_502', 502],
      ['SB_ERR_BAD_RESPONSE', 200],
      ['SB_ERR_BAD_RESPONSE', 200],
      ['SB_ERR_BAD_RESPONSE', undefined],
    ],
  );
  assert.match(errors[0]?.[2] ?? '', /the store is away/);
  assert.match(errors[1]?.[2] ?? '', /the server answered 502/);
  assert.match(errors[2]?.[2] ?? '', /not LPIO JSON/);
  assert.match(errors[3]?.[2] ?? '', /not an object/);
  assert.match(errors[4]?.[2] ?? '', /unknown response state 7/);
  // The message went out again with each retry until the server refused it.
  const carrying = requests.filter((body) =>
    JSON.stringify((body as { messages?: unknown }).messages ?? []).includes('"kept"'),
  );
  assert.ok(carrying.length >= 5, `sent again after each bad answer: ${carrying.length}`);
});
