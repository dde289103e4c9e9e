/**
 * What README ("Server API") and docs/security.md promise of the two hooks, end to end on LPIO
 * (raw HTTP) and WebSocket (raw frames), and through the SDK on both transports:
 * - the `authorize` hook refusing a publish, a subscribe or a direct send refuses that message
 *   alone with SB_ERR_FORBIDDEN (LPIO: named in `errors`, not acked; WebSocket: an `error` frame
 *   naming it), nothing of it reaches anyone (a later allowed message arrives, and the refused
 *   one never came before it), and the allowed messages beside it pass;
 * - the `auth` hook refusing a request or an upgrade: 403 SB_ERR_FORBIDDEN (401 when it throws
 *   SB_ERR_UNAUTHORIZED), nothing opened, nothing processed.
 */
import { strict as assert } from 'node:assert';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { createClient, type Client, type ClientMessage, type TransportName } from '../../src/client/index.js';
import type { WebSocketConstructor } from '../../src/client/connection.js';
import { SwitchboardError, type AuthRequest, type Permission, type Switchboard } from '../../src/index.js';
import {
  message,
  openParty,
  PROTOCOLS,
  refusedUpgrade,
  usersAuth,
  userHeaders,
  wsUrlOf,
  type Delivered,
  type FullReply,
} from '../helpers/parties.js';
import { lpioPost, serve } from '../helpers/start-server.js';
import { until } from '../helpers/until.js';

interface Hooked {
  readonly origin: string;
  readonly server: Switchboard;
  /** Every question the authorize hook was asked: action, target, the asking session's user. */
  readonly asked: Array<[Permission, string, string | undefined]>;
  /** What the application received (`hub.on('message')`). */
  readonly inbox: unknown[];
  /** Sessions opened. */
  readonly opened: string[];
}

/**
 * The rule under test: no publishing under `/locked/`, no subscribing under `/secret/`, and
 * mallory may send no direct messages. `eve` is refused by the auth hook, `expired` gets 401.
 */
async function hooked(t: TestContext): Promise<Hooked> {
  const asked: Hooked['asked'] = [];
  const { origin, server } = await serve(t, {
    settings: { batchWindowMs: 2, holdTimeoutMs: 2_000 },
    auth: (req: AuthRequest) => {
      if (req.headers['x-user'] === 'expired') throw new SwitchboardError('SB_ERR_UNAUTHORIZED', 'expired');
      return usersAuth(req);
    },
    authorize: (action, target, session) => {
      asked.push([action, target, session.user]);
      if (action === 'publish') return !target.startsWith('/locked/');
      if (action === 'subscribe') return !target.startsWith('/secret/');
      return session.user !== 'mallory';
    },
  });
  const inbox: unknown[] = [];
  const opened: string[] = [];
  server.on('message', (m) => inbox.push(m.data));
  server.on('sessionOpen', (s) => opened.push(s.id));
  return { origin, server, asked, inbox, opened };
}

const seen = (delivered: readonly Delivered[]) => delivered.map((d) => [d.channel, d.sender, d.data]);
const FORBIDDEN = 'SB_ERR_FORBIDDEN';

for (const protocol of PROTOCOLS) {
  test(`${protocol}: a publish the authorize hook refuses is refused alone with SB_ERR_FORBIDDEN and reaches nobody; allowed ones pass`, async (t) => {
    const hub = await hooked(t);
    const reader = await openParty(t, protocol, hub.origin, { user: 'alice' });
    await reader.subscribe('/**');
    const bob = await openParty(t, protocol, hub.origin, { user: 'bob' });

    assert.deepEqual(
      await bob.send([message('p1', '/locked/room', 'refused'), message('p2', '/open/room', 'beside it')]),
      { acked: ['p2'], refused: [{ id: 'p1', code: FORBIDDEN }] },
      'the refused publish is named and not acked; the one beside it is processed',
    );
    assert.deepEqual(await bob.send([message('p3', '/open/room', 'later')]), { acked: ['p3'], refused: [] });

    // Everything a subscriber of /** got, up to the later message: the refused one is not there.
    assert.deepEqual(seen(await reader.receiveUntil((d) => d.data === 'later')), [
      ['/open/room', bob.address, 'beside it'],
      ['/open/room', bob.address, 'later'],
    ]);
    assert.deepEqual(hub.inbox, ['beside it', 'later'], 'the application never saw the refused one');
    assert.ok(hub.asked.some((q) => q.join() === ['publish', '/locked/room', 'bob'].join()));
  });

  test(`${protocol}: a subscribe the authorize hook refuses is refused (SB_ERR_FORBIDDEN) and nothing published there reaches the session`, async (t) => {
    const hub = await hooked(t);
    const alice = await openParty(t, protocol, hub.origin, { user: 'alice' });
    assert.deepEqual(
      await alice.send([
        message('s1', '/meta/subscribe', '/secret/**'),
        message('s2', '/meta/subscribe', '/news/*'),
        // One message naming an allowed and a refused pattern is refused whole.
        message('s3', '/meta/subscribe', ['/sports/*', '/secret/plans']),
      ]),
      {
        acked: ['s2'],
        refused: [
          { id: 's1', code: FORBIDDEN },
          { id: 's3', code: FORBIDDEN },
        ],
      },
    );
    assert.equal((await hub.server.publish('/secret/plans', 'leak')).matched, 0, 'nobody subscribed there');
    assert.equal((await hub.server.publish('/sports/1', 'goal')).matched, 0, 's3 subscribed nothing');
    assert.equal((await hub.server.publish('/news/1', 'news')).matched, 1);
    assert.deepEqual(seen(await alice.receiveUntil((d) => d.data === 'news')), [
      ['/news/1', undefined, 'news'],
    ]);
    assert.ok(hub.asked.some((q) => q.join() === ['subscribe', '/secret/**', 'alice'].join()));
  });

  test(`${protocol}: a direct send the authorize hook refuses is refused (SB_ERR_FORBIDDEN) and never reaches its recipient; allowed sends pass`, async (t) => {
    const hub = await hooked(t);
    const victim = await openParty(t, protocol, hub.origin, { user: 'alice' });
    const mallory = await openParty(t, protocol, hub.origin, { user: 'mallory' });
    const bob = await openParty(t, protocol, hub.origin, { user: 'bob' });

    assert.deepEqual(await mallory.send([message('d1', victim.address, 'from mallory')]), {
      acked: [],
      refused: [{ id: 'd1', code: FORBIDDEN }],
    });
    // Only the send is refused: mallory may still talk to the application.
    assert.deepEqual(await mallory.send([message('a1', undefined, 'to the app')]), {
      acked: ['a1'],
      refused: [],
    });
    assert.deepEqual(await bob.send([message('d2', victim.address, 'from bob')]), {
      acked: ['d2'],
      refused: [],
    });

    assert.deepEqual(seen(await victim.receiveUntil((d) => d.data === 'from bob')), [
      [victim.address, bob.address, 'from bob'],
    ]);
    assert.deepEqual(hub.inbox, ['to the app', 'from bob']);
    assert.ok(hub.asked.some((q) => q.join() === ['send', victim.address, 'mallory'].join()));
  });
}

test('lpio: a request the auth hook refuses is answered 403 (401 when it throws SB_ERR_UNAUTHORIZED) and nothing of it is processed', async (t) => {
  const hub = await hooked(t);
  const url = `${hub.origin}/lpio`;
  const reader = await openParty(t, 'lpio', hub.origin, { user: 'alice' });
  await reader.subscribe('/**');
  const bob = await openParty(t, 'lpio', hub.origin, { user: 'bob' });
  const opened = hub.opened.length;

  const publish = { messages: [message('e1', '/open/room', 'from eve')] };
  for (const [user, status, code] of [
    ['eve', 403, 'SB_ERR_FORBIDDEN'],
    ['expired', 401, 'SB_ERR_UNAUTHORIZED'],
  ] as const) {
    for (const headers of [userHeaders(user), { ...userHeaders(user), 'lpio-client': bob.id }]) {
      const refused = await lpioPost(url, publish, headers);
      assert.equal(refused.status, status, `${user} ${JSON.stringify(headers)}`);
      assert.equal((refused.body.error as { code: string }).code, code);
      assert.equal((refused.body as FullReply).set, undefined, 'no session is opened');
    }
  }
  assert.equal(hub.opened.length, opened, 'no session opened for a refused request');

  assert.deepEqual(await bob.send([message('b1', '/open/room', 'from bob')]), { acked: ['b1'], refused: [] });
  assert.deepEqual(seen(await reader.receiveUntil((d) => d.data === 'from bob')), [
    ['/open/room', bob.address, 'from bob'],
  ]);
  assert.deepEqual(hub.inbox, ['from bob']);
  assert.equal(
    hub.asked.filter(([, target]) => target === '/open/room').length,
    1,
    'only bob was asked about',
  );
});

test('websocket: an upgrade the auth hook refuses is answered 403 (401 when it throws SB_ERR_UNAUTHORIZED), nothing upgraded or opened', async (t) => {
  const hub = await hooked(t);
  const url = wsUrlOf(hub.origin);
  assert.deepEqual(await refusedUpgrade(url, userHeaders('eve')), { status: 403, code: 'SB_ERR_FORBIDDEN' });
  assert.deepEqual(await refusedUpgrade(`${url}?user=eve`), { status: 403, code: 'SB_ERR_FORBIDDEN' });
  assert.deepEqual(await refusedUpgrade(url, userHeaders('expired')), {
    status: 401,
    code: 'SB_ERR_UNAUTHORIZED',
  });
  assert.deepEqual(hub.opened, []);
  // The hook admits others on the same server.
  const alice = await openParty(t, 'websocket', hub.origin, { user: 'alice' });
  assert.equal((await hub.server.session(alice.id))?.user, 'alice');
});

const WS = WebSocket as unknown as WebSocketConstructor;

function sdk(t: TestContext, origin: string, transport: TransportName, user: string): Client {
  // The SDK's WebSocket cannot set headers (browsers cannot): the user goes in the query string.
  const endpoint = transport === 'lpio' ? `${origin}/lpio` : wsUrlOf(origin);
  const client = createClient({
    url: `${endpoint}?user=${user}`,
    transport,
    WebSocket: WS,
    backoff: { min: 10, max: 200 },
    ackTimeout: 5_000,
  });
  t.after(() => client.disconnect());
  return client;
}

async function connected(client: Client): Promise<void> {
  client.connect();
  await until(() => client.state === 'connected' && client.address !== undefined, 'the client to connect');
}

for (const transport of ['lpio', 'websocket'] as const) {
  test(`SDK over ${transport}: refused publish, subscribe and send reject with SB_ERR_FORBIDDEN and deliver nothing; allowed ones resolve and arrive`, async (t) => {
    const hub = await hooked(t);
    const alice = sdk(t, hub.origin, transport, 'alice');
    const mallory = sdk(t, hub.origin, transport, 'mallory');
    const aliceGot: ClientMessage[] = [];
    const malloryGot: ClientMessage[] = [];
    alice.on('message', (m) => aliceGot.push(m));
    mallory.on('message', (m) => malloryGot.push(m));
    await connected(alice);
    await connected(mallory);
    await alice.subscribe('/**');

    const codeOf = (p: Promise<void>) =>
      p.then(
        () => 'resolved',
        (e: { code?: string }) => e.code,
      );
    assert.equal(await codeOf(mallory.send('dm', { to: alice.address as string })), FORBIDDEN);
    assert.equal(await codeOf(mallory.send('locked', { path: '/locked/x' })), FORBIDDEN);
    assert.equal(await codeOf(mallory.subscribe('/secret/**')), FORBIDDEN);
    await mallory.subscribe('/open/*');
    await mallory.send('open', { path: '/open/x' });

    await until(() => aliceGot.length > 0, 'alice to receive');
    assert.deepEqual(
      aliceGot.map((m) => [m.path, m.from, m.data]),
      [['/open/x', mallory.address, 'open']],
      'neither the refused direct message nor the refused publish came first',
    );
    await hub.server.publish('/secret/x', 'secret');
    await hub.server.publish('/open/y', 'for subscribers of /open/*');
    await until(() => malloryGot.length > 0, 'mallory to receive');
    assert.deepEqual(
      malloryGot.map((m) => [m.path, m.data]),
      [['/open/y', 'for subscribers of /open/*']],
    );
    assert.deepEqual(hub.inbox, ['open'], 'the application saw only the allowed publish');
  });
}
