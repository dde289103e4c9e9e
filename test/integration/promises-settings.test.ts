/**
 * Settings as docs/configuration.md promises them, on the wire and on both engines:
 * - `unreliableTtlMs`: an unreliable message left unsent longer than that is discarded, not sent
 *   late (one exactly that old still goes), on the hub's own clock (`now`);
 * - `maxSessions`: the session past it is refused with 503 `SB_ERR_TOO_MANY_SESSIONS` on every
 *   path that opens one, and a closed session makes room;
 * - `maxBatchBytes` / `maxBatchMessages`: one LPIO answer carries as many messages as fit and no
 *   more (one larger message still goes alone); the rest follow in later answers, and over
 *   WebSocket the hub takes again by itself (`more`);
 * - `onSessionOpen`: the patterns it returns are the session's subscriptions from the start; false
 *   refuses the session (403 `SB_ERR_FORBIDDEN`).
 */
import { strict as assert } from 'node:assert';
import { after, test, type TestContext } from 'node:test';
import type { HubSettings, SwitchboardOptions } from '../../src/index.js';
import { ENGINE_KINDS, Engines, type EngineKind } from '../helpers/engines.js';
import {
  lpioPost,
  openLpioSession,
  serve,
  type LpioReply,
  type TestServer,
} from '../helpers/start-server.js';
import { RawWsClient } from '../helpers/ws-client.js';
import { liveConnections } from '../helpers/parties.js';

const engines = new Engines('settings');
after(() => engines.stop());

async function start(
  t: TestContext,
  kind: EngineKind,
  settings: Partial<HubSettings>,
  options: SwitchboardOptions = {},
): Promise<TestServer> {
  const engine = await engines.engine(kind);
  const server = await serve(t, {
    settings: { batchWindowMs: 2, ...settings },
    ...options,
    ...(engine && { engine }),
  });

  return server;
}

function post(server: TestServer, id: string, body: Record<string, unknown>): Promise<LpioReply> {
  return lpioPost(server.lpioUrl, body, { 'lpio-client': id }).then((reply) => {
    assert.equal(reply.status, 200);
    return reply.body;
  });
}

const wsUrl = (server: TestServer) => `${server.origin.replace('http', 'ws')}/ws`;
const deliveries = (reply: LpioReply) => (reply.messages ?? []).filter((m) => m.type === 'data');
const ackAll = (reply: LpioReply) => deliveries(reply).map((m) => ({ type: 'ack', id: m.id }));

for (const kind of ENGINE_KINDS) {
  test(`${kind}: an unreliable message unsent for more than unreliableTtlMs is discarded; one exactly that old is sent`, async (t) => {
    let clock = 1_700_000_000_000;
    const server = await start(t, kind, { unreliableTtlMs: 1_000 }, { now: () => clock });
    const session = await openLpioSession(server.lpioUrl);
    await server.server.send(session.id, 'stale', { reliable: false });
    clock += 1;
    await server.server.send(session.id, 'edge', { reliable: false });
    await server.server.send(session.id, 'reliable');
    clock += 1_000; // stale: 1,001 ms old; edge: exactly 1,000; reliable messages never expire
    const reply = await post(server, session.id, { messages: [] });
    assert.deepEqual(
      deliveries(reply).map((m) => [m.id, m.data]),
      [
        ['1', 'edge'],
        ['2', 'reliable'],
      ],
      'the stale one is gone and took no id',
    );
    assert.equal((await server.server.stats()).counters.discarded, 1);
  });

  test(`${kind}: maxSessions: the next session is refused with 503 SB_ERR_TOO_MANY_SESSIONS everywhere; closing one makes room`, async (t) => {
    const server = await start(t, kind, { maxSessions: 3 });
    // The WebSocket adapter reports refusals with a 5xx status as warnings.
    const warnings: string[] = [];
    server.server.on('warning', (warning) => warnings.push(warning.code));
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await openLpioSession(server.lpioUrl));

    const lpio = await lpioPost(server.lpioUrl, {});
    assert.equal(lpio.status, 503);
    assert.equal((lpio.body.error as { code: string }).code, 'SB_ERR_TOO_MANY_SESSIONS');
    const ws = await RawWsClient.open(wsUrl(server));
    t.after(() => ws.close());
    ws.send({ type: 'hello' });
    assert.equal((await ws.next('error')).code, 'SB_ERR_TOO_MANY_SESSIONS');
    assert.equal(
      ws.frames.find((f) => f.type === 'welcome'),
      undefined,
      'no session was opened',
    );
    await ws.waitClosed();
    await assert.rejects(server.server.openSession('lpio', { user: undefined }), {
      code: 'SB_ERR_TOO_MANY_SESSIONS',
      status: 503,
    });
    assert.equal((await server.server.stats()).sessionsByProtocol.lpio, 3);

    assert.equal(await server.server.closeSession((open[0] as { id: string }).id), true);
    const again = await lpioPost(server.lpioUrl, {});
    assert.equal(again.status, 200);
    assert.equal(typeof again.body.set?.id, 'string', 'a fourth session fits once one closed');
    const refused = await lpioPost(server.lpioUrl, {});
    assert.equal(refused.status, 503, 'and the bound holds again');
    assert.deepEqual(warnings, ['SB_ERR_TOO_MANY_SESSIONS']);
  });

  test(`${kind}: one LPIO answer carries what fits maxBatchBytes and maxBatchMessages; the rest comes next`, async (t) => {
    const payload = 'x'.repeat(98); // 100 bytes of JSON
    const cases: ReadonlyArray<{ settings: Partial<HubSettings>; sizes: number[] }> = [
      { settings: { maxBatchBytes: 300 }, sizes: [3, 3, 1] },
      { settings: { maxBatchBytes: 299 }, sizes: [2, 2, 2, 1] },
      { settings: { maxBatchMessages: 2 }, sizes: [2, 2, 2, 1] },
    ];
    for (const { settings, sizes } of cases) {
      // The poll after the last batch finds nothing queued and is held: a short hold ends it.
      const server = await start(t, kind, { holdTimeoutMs: 50, ...settings });
      const session = await openLpioSession(server.lpioUrl);
      for (let i = 1; i <= 7; i++) await server.server.send(session.id, payload);
      const got: number[] = [];
      let reply = await post(server, session.id, { messages: [] });
      for (let poll = 0; deliveries(reply).length > 0 && poll < 10; poll++) {
        const bytes = deliveries(reply).reduce(
          (sum, m) => sum + Buffer.byteLength(JSON.stringify(m.data)),
          0,
        );
        assert.ok(bytes <= (settings.maxBatchBytes ?? 102_400), `${bytes} bytes in one answer`);
        got.push(deliveries(reply).length);
        // Acked, so the next poll re-sends nothing and takes the next batch.
        const next = post(server, session.id, { messages: ackAll(reply) });
        reply = await next;
      }
      assert.deepEqual(got, sizes, JSON.stringify(settings));
    }
    // One message larger than the bound still goes, alone.
    const server = await start(t, kind, { maxBatchBytes: 300 });
    const session = await openLpioSession(server.lpioUrl);
    await server.server.send(session.id, 'y'.repeat(500));
    await server.server.send(session.id, payload);
    const first = await post(server, session.id, { messages: [] });
    assert.deepEqual(
      deliveries(first).map((m) => (m.data as string).length),
      [500],
    );
    const second = await post(server, session.id, { messages: ackAll(first) });
    assert.deepEqual(
      deliveries(second).map((m) => (m.data as string).length),
      [98],
    );
  });

  test(`${kind}: over WebSocket a queue longer than one batch goes out in full, in order, after one wake-up`, async (t) => {
    const server = await start(t, kind, { maxBatchBytes: 300 });
    const { client: first, welcome } = await RawWsClient.connect(wsUrl(server));
    const session = welcome.session as string;
    first.close();
    await liveConnections(server.server, 'websocket', 0);
    // Queued while no connection is live: the resume's one flush takes three, `more` the rest.
    for (let i = 0; i < 10; i++) await server.server.send(session, `${i}`.padEnd(100, '.'));
    const { client } = await RawWsClient.connect(wsUrl(server), { session });
    t.after(() => client.close());
    await client.until(() => client.data.length === 10, 5_000, 'ten messages');
    assert.deepEqual(
      client.data.map((d) => [d.id, (d.data as string).slice(0, 1)]),
      Array.from({ length: 10 }, (_, i) => [i + 1, String(i)]),
    );
  });

  test(`${kind}: onSessionOpen's patterns subscribe every new session; false refuses it with 403`, async (t) => {
    const server = await start(
      t,
      kind,
      {},
      {
        onSessionOpen: (session) =>
          session.protocol === 'websocket' ? ['/news/**', '/ws/only'] : ['/news/**'],
      },
    );
    const lpio = await openLpioSession(server.lpioUrl);
    const { client: ws } = await RawWsClient.connect(wsUrl(server));
    t.after(() => ws.close());
    await server.server.publish('/elsewhere', 'not subscribed');
    await server.server.publish('/news/today/sport', 'news');
    await server.server.publish('/ws/only', 'ws');
    // In publish order: had '/elsewhere' reached either session it would come first.
    const reply = await post(server, lpio.id, { messages: [] });
    assert.deepEqual(
      deliveries(reply).map((m) => [m.channel, m.data]),
      [['/news/today/sport', 'news']],
    );
    await ws.until(() => ws.data.length === 2, 5_000, 'two publishes');
    assert.deepEqual(
      ws.data.map((d) => [d.channel, d.data]),
      [
        ['/news/today/sport', 'news'],
        ['/ws/only', 'ws'],
      ],
    );

    const refusing = await start(t, kind, {}, { onSessionOpen: () => false });
    const refused = await lpioPost(refusing.lpioUrl, {});
    assert.equal(refused.status, 403);
    assert.equal((refused.body.error as { code: string }).code, 'SB_ERR_FORBIDDEN');
    assert.equal((await refusing.server.stats()).sessionsByProtocol.lpio ?? 0, 0, 'and it was closed');
  });
}
