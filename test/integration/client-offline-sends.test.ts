/**
 * The SDK keeps its promise through a bad network, on every transport: a real server behind a
 * TCP proxy that cuts connections, refuses new ones and holds the server's answers back
 * (test/helpers/cutting-proxy.ts). A send whose ack is lost becomes `retrying` and goes again
 * with its id on the next connection; the server drops the repeat, so it is processed once. Sends
 * made while offline wait and go when the client is back, in order. The outbox is bounded, a
 * deadline drops what cannot be delivered, and a send that a replaced session may or may not have
 * processed is dropped as SB_ERR_SESSION_LOST, never sent to the new session.
 */
import { strict as assert } from 'node:assert';
import { test, type TestContext } from 'node:test';
import type {
  Client,
  ClientError,
  ClientOptions,
  OutgoingState,
  TransportName,
} from '../../src/client/index.js';
import { cuttingProxy, type CuttingProxy } from '../helpers/cutting-proxy.js';
import { testClient } from '../helpers/sdk-client.js';
import { serve, type TestServer } from '../helpers/start-server.js';
import { until } from '../helpers/until.js';

const TRANSPORTS: readonly TransportName[] = ['websocket', 'lpio'];

interface Setup {
  readonly server: TestServer;
  readonly proxy: CuttingProxy;
  readonly client: Client;
  /** What the server's application received, in order. */
  readonly received: unknown[];
  /** Every state change of every send, by message id. */
  readonly states: Map<string, OutgoingState[]>;
  readonly disconnects: string[];
  /** The client's own account of the connection: its events in order. */
  readonly events: string[];
  readonly retries: Array<{ delay: number; attempt: number }>;
}

async function setup(
  t: TestContext,
  transport: TransportName,
  options: Partial<ClientOptions> = {},
): Promise<Setup> {
  const server = await serve(t);
  const proxy = await cuttingProxy(Number(new URL(server.origin).port));
  t.after(() => proxy.close());
  const received: unknown[] = [];
  server.server.on('message', (message) => received.push(message.data));
  const client = testClient(t, {
    url: `${proxy.origin}${transport === 'websocket' ? '/ws' : '/lpio'}`,
    transport,
    ackTimeout: 200,
    responseTimeout: 1_000,
    ...options,
  });
  const states = new Map<string, OutgoingState[]>();
  client.on('messageState', ({ id, state }) => states.set(id, [...(states.get(id) ?? []), state]));
  const disconnects: string[] = [];
  const events: string[] = [];
  const retries: Array<{ delay: number; attempt: number }> = [];
  client.on('disconnected', (reason) => {
    disconnects.push(reason ?? '');
    events.push('disconnected');
  });
  client.on('connected', () => events.push('connected'));
  client.on('reconnecting', (next) => retries.push(next));
  client.connect();
  await until(() => client.state === 'connected', 'connected');
  return { server, proxy, client, received, states, disconnects, events, retries };
}

const lastId = (client: Client) => client.messages().at(-1)?.id as string;

for (const transport of TRANSPORTS) {
  void test(`${transport}: a lost ack is retried with the same id and processed once; offline sends go when back, in order`, async (t) => {
    const { proxy, client, received, states, disconnects, events, retries } = await setup(t, transport);
    await client.send('before');
    const address = client.address;

    // The send reaches the server, its ack does not reach the client.
    proxy.holdReplies(true);
    const ackLost = client.send('ack lost');
    const ackLostId = lastId(client);
    await until(() => received.includes('ack lost'), 'the server got it');
    await until(() => states.get(ackLostId)?.includes('retrying') === true, 'retrying after the ack timeout');

    // The network goes away: the client says so, and sends made now wait.
    proxy.refuse(true);
    proxy.cut();
    await until(() => disconnects.length > 0, 'disconnected');
    const before = retries.length;
    await until(() => retries.length >= before + 2, 'two retries announced');
    for (const next of retries.slice(before)) {
      assert.ok(Number.isInteger(next.delay) && next.delay >= 0, `a delay in ms: ${next.delay}`);
      assert.ok(next.attempt >= 1, `failures in a row: ${next.attempt}`);
    }
    const offline = [1, 2, 3, 4, 5].map((n) => client.send(`offline ${n}`));
    const offlineIds = client
      .messages()
      .slice(-5)
      .map((m) => m.id);
    assert.ok(offlineIds.every((id) => client.messages().find((m) => m.id === id)?.state === 'unsent'));

    // Back: everything is delivered, the repeat is dropped by the server.
    proxy.holdReplies(false);
    proxy.refuse(false);
    await ackLost;
    await Promise.all(offline);
    assert.deepEqual(received, [
      'before',
      'ack lost',
      'offline 1',
      'offline 2',
      'offline 3',
      'offline 4',
      'offline 5',
    ]);
    assert.equal(client.address, address, 'the same session, resumed');
    const ackLostStates = states.get(ackLostId) ?? [];
    assert.equal(ackLostStates[0], 'unsent');
    assert.equal(ackLostStates.at(-1), 'delivered');
    assert.ok(
      ackLostStates.filter((s) => s === 'retrying').length >= 2,
      `retrying at the ack timeout, and when sent again: ${ackLostStates.join(' ')}`,
    );
    assert.ok((client.messages().find((m) => m.id === ackLostId)?.attempts ?? 0) >= 2);
    assert.equal(client.state, 'connected');
    // One outage, told once each way: connected, disconnected at the first failure, connected
    // again at the first success.
    assert.deepEqual(events, ['connected', 'disconnected', 'connected']);
  });

  void test(`${transport}: offline, the outbox is bounded (refused at once) and the deadline drops what waited too long`, async (t) => {
    const { proxy, client, received } = await setup(t, transport, { maxPending: 3, deliveryTimeout: 1_500 });
    proxy.refuse(true);
    proxy.cut();
    await until(() => client.state !== 'connected', 'disconnected');
    const waiting = [client.send('w1'), client.send('w2'), client.send('w3')].map((p) =>
      p.then(
        () => 'delivered',
        (error: ClientError) => error.code,
      ),
    );
    await assert.rejects(client.send('one too many'), {
      code: 'SB_ERR_SEND_BUFFER_FULL',
      message: '3 messages (12 bytes) wait for their acks, at most 3 (1048576 bytes)',
    });
    assert.deepEqual(await Promise.all(waiting), Array(3).fill('SB_ERR_DELIVERY_TIMEOUT'));
    // Their places are free again, and once back a send goes through.
    proxy.refuse(false);
    await client.send('after');
    assert.deepEqual(received, ['after']);
  });

  void test(`${transport}: a send whose session was replaced while its ack was lost is dropped as SB_ERR_SESSION_LOST; unsent ones go to the new session`, async (t) => {
    const { server, proxy, client, received, retries } = await setup(t, transport);
    const sessions: boolean[] = [];
    client.on('session', (info) => sessions.push(info.resumed));
    proxy.holdReplies(true);
    const ambiguous = client.send('maybe');
    // A subscribe in the same plight goes to the new session all the same: twice is harmless.
    const subscribed = client.subscribe('/room');
    await until(() => received.includes('maybe'), 'the server got it');
    proxy.refuse(true);
    proxy.cut();
    await until(() => client.state !== 'connected', 'disconnected');
    // At least one attempt fails while the network is away: what it carried may have reached
    // the old session, as far as the client can tell.
    const failed = retries.length;
    await until(() => retries.length >= failed + 2, 'attempts that failed');
    // The server ends the session meanwhile: the client's next connection gets a new one. A send
    // made now, before any attempt of it can fail, cannot have reached the old session.
    assert.equal(await server.server.closeSession(client.id as string, 'lost'), true);
    proxy.holdReplies(false);
    proxy.refuse(false);
    const later = client.send('later');
    await assert.rejects(ambiguous, {
      code: 'SB_ERR_SESSION_LOST',
      message:
        /^message \d+-\d+ was sent in a session that ended before acking it: it may or may not have been delivered$/,
    });
    await later;
    assert.deepEqual(received, ['maybe', 'later'], 'not sent again to the new session');
    assert.ok(sessions.includes(false), 'a new session');
    await subscribed;
    const got: unknown[] = [];
    client.on('message', (message) => got.push(message.data));
    await server.server.publish('/room', 'to the new session');
    await until(() => got.includes('to the new session'), 'the new session subscribed');
  });
}
