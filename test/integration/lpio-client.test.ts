/**
 * npm's lpio-client@0.2.8, the published reference client, against our server. In Node it needs
 * XMLHttpRequest: the small shim below implements the part lib/request.js uses over node:http.
 * Its request timer is never cleared (a reference bug), so a short responseTimeout keeps the run short.
 */
import { strict as assert } from 'node:assert';
import { request, type ClientRequest } from 'node:http';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { openLpioSession, lpioPost, startServer } from '../helpers/start-server.js';
import { eventually, until } from '../helpers/until.js';

class NodeXMLHttpRequest {
  readyState = 0;
  status = 0;
  responseText = '';
  onreadystatechange: (() => void) | null = null;
  onerror: ((error: unknown) => void) | null = null;
  #method = 'GET';
  #url = '';
  #headers: Record<string, string> = {};
  #request: ClientRequest | undefined;
  #aborted = false;

  open(method: string, url: string): void {
    this.#method = method;
    this.#url = url;
    this.readyState = 1;
  }

  setRequestHeader(name: string, value: string): void {
    this.#headers[name] = value;
  }

  send(body: string): void {
    const req = request(this.#url, { method: this.#method, headers: this.#headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        if (this.#aborted) return;
        this.status = res.statusCode ?? 0;
        this.responseText = Buffer.concat(chunks).toString('utf8');
        this.readyState = 4;
        this.onreadystatechange?.();
      });
    });
    req.on('error', (error) => {
      if (!this.#aborted) this.onerror?.(error);
    });
    req.end(body);
    this.#request = req;
  }

  abort(): void {
    this.#aborted = true;
    this.#request?.destroy();
  }
}

interface LpioClient {
  id: string | undefined;
  connect(): void;
  disconnect(): void;
  send(options: { data: unknown; channel?: string }, callback: (error?: Error) => void): void;
  /** Its events are emitted on this emitter (emitter-component). */
  out: { on(event: string, handler: (...args: unknown[]) => void): void };
}

const globals = globalThis as unknown as { window?: unknown; XMLHttpRequest?: unknown };
globals.XMLHttpRequest = NodeXMLHttpRequest;
globals.window ??= globalThis;
const LpioClientClass = createRequire(import.meta.url)('lpio-client') as new (options: object) => LpioClient;

test('lpio-client@0.2.8 connects, gets an id, publishes (acked) and receives', async (t) => {
  const server = await startServer({ settings: { holdTimeoutMs: 500, batchWindowMs: 5 } });
  t.after(() => server.close());
  const listener = await openLpioSession(server.lpioUrl);
  await lpioPost(
    server.lpioUrl,
    { messages: [{ type: 'data', id: 's', channel: '/meta/subscribe', data: '/ref/*' }] },
    { 'lpio-client': listener.id },
  );

  const client = new LpioClientClass({ url: server.lpioUrl, responseTimeout: 2000 });
  t.after(() => client.disconnect());
  const received: unknown[] = [];
  client.out.on('data', (data) => received.push(data));
  const connected = new Promise<void>((resolve) => client.out.on('connected', () => resolve()));
  client.connect();
  await connected;
  assert.equal(typeof client.id, 'string');
  const session = await server.server.session(client.id as string);
  assert.equal(session?.protocol, 'lpio');

  // Its publish to a path is acked (the callback gets no error) and reaches the subscriber.
  const held = lpioPost(server.lpioUrl, { messages: [] }, { 'lpio-client': listener.id });
  await new Promise<void>((resolve, reject) =>
    client.send({ channel: '/ref/room', data: { hello: 'from lpio-client' } }, (error) =>
      error ? reject(error) : resolve(),
    ),
  );
  const got = (await held).body.messages ?? [];
  assert.deepEqual(
    got.map((m) => [m.channel, m.data]),
    [['/ref/room', { hello: 'from lpio-client' }]],
  );

  // It receives what the application sends it, and acks it.
  await server.server.send(client.id as string, { from: 'app' });
  await until(() => received.length > 0, 'the message from the app');
  assert.deepEqual(received, [{ from: 'app' }]);
  // Its ack rides on its next request: then nothing is left unsent or unacked.
  const settled = async () => {
    const queue = await server.server.inspect(client.id as string);
    return queue?.unacked.length === 0 && queue.unsent.length === 0;
  };
  await eventually(settled, 'the ack of the message from the app');
  const { counters } = await server.server.stats();
  assert.deepEqual(
    [counters.delivered, counters.dropped],
    [1, 0],
    'it was acked (delivered), not dropped; the listener never acked its own',
  );
});
