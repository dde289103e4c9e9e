import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { resolveSettings, type HubSettings } from '../../core/settings.js';
import { message, runEngineContract } from '../../../test/contract/engine.contract.js';
import { startRedis, type RedisProcess } from '../../../test/helpers/redis.js';
import { RedisEngine } from './redis-engine.js';
import { eventually, until } from '../../../test/helpers/until.js';

let redis: RedisProcess | undefined;
let prefixes = 0;
/** Every engine the cluster tests start, closed at the end even when a test failed before it could. */
const engines: RedisEngine[] = [];

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await Promise.all(engines.map((engine) => engine.close()));
  await redis?.stop();
});

// A fresh key prefix per engine: each contract test sees an empty Redis of its own.
runEngineContract('redis', () => {
  if (!redis) throw new Error('redis-server did not start');
  return new RedisEngine({ url: redis.url, prefix: `contract${++prefixes}:` });
});

/** Two or more engines on one prefix: the nodes of one cluster. */
async function cluster(prefix: string, nodes = 2, settings: Partial<HubSettings> = {}) {
  if (!redis) throw new Error('redis-server did not start');
  const started = [];
  for (let i = 0; i < nodes; i++) {
    const engine = new RedisEngine({ url: redis.url, prefix });
    engines.push(engine);
    const seen = {
      wakes: [] as string[],
      urgentWakes: [] as string[],
      pressured: [] as string[],
      closedHere: [] as Array<[string, string]>,
      closedElsewhere: [] as Array<[string, string]>,
      errors: [] as string[],
      errorMessages: [] as string[],
      /** `sessionsLost` events: the node found the cluster's data gone. */
      lost: 0,
      wakeAll: 0,
    };
    await engine.start({
      limits: resolveSettings(settings),
      now: Date.now,
      counters: { count: () => undefined },
      events: {
        wake: (id, urgent) => {
          seen.wakes.push(id);
          if (urgent) seen.urgentWakes.push(id);
        },
        pressure: (id) => seen.pressured.push(id),
        sessionClosed: (session, reason) => seen.closedHere.push([session.id, reason]),
        closedElsewhere: (id, reason) => seen.closedElsewhere.push([id, reason]),
        wakeAll: () => seen.wakeAll++,
        engineError: (error) => {
          seen.errors.push(error.code);
          seen.errorMessages.push(error.message);
        },
        sessionsLost: () => seen.lost++,
      },
    });
    started.push({ engine, seen });
  }
  return started;
}

const takeAll = { resend: false, maxMessages: 100, maxBytes: 100_000 };

describe('redis engine across nodes', () => {
  test('a subscription made on one node is reached by a publish on another, which wakes the first', async () => {
    const [a, b] = (await cluster('x1:')) as [Node, Node];
    const id = 'session-1';
    await a.engine.openSession({ id, address: 'addr-1', protocol: 'lpio', user: undefined });
    await a.engine.subscribe(id, ['/room/*']);
    // b has not seen the pattern unless its event arrived; either way the publish must reach it.
    const result = await b.engine.publish('/room/1', message('hi', { path: '/room/1' }), undefined);
    assert.equal(result.queued, 1);
    await until(() => a.seen.wakes.includes(id), 'the wake-up on node a');
    const batch = await a.engine.take(id, takeAll);
    assert.deepEqual(
      batch.deliveries.map((d) => [d.id, JSON.parse(d.message.json) as unknown, d.message.path]),
      [[1, 'hi', '/room/1']],
    );
    await Promise.all([a.engine.close(), b.engine.close()]);
  });

  test('a close on one node ends the connection on the other; message states reach the sender node', async () => {
    const [a, b] = (await cluster('x2:')) as [Node, Node];
    const id = 'session-2';
    await a.engine.openSession({ id, address: 'addr-2', protocol: 'websocket', user: 'u' });
    const states: Array<[string, number | undefined]> = [];
    await a.engine.enqueue(
      id,
      message('tracked', { onState: (s, _at, mid) => states.push([s, mid]) }),
      'reject',
    );
    const [taken] = await b.engine.takeMany(
      [{ sessionId: id, resend: false, owner: 'c1', claim: true }],
      takeAll,
    );
    assert.equal(taken?.deliveries.length, 1);
    assert.equal(await b.engine.ackUpTo(id, 1), 1);
    await until(() => states.length === 3, 'states from node b');
    assert.deepEqual(states, [
      ['unsent', undefined],
      ['sent', 1],
      ['delivered', 1],
    ]);
    assert.equal(await b.engine.closeSession(id, 'terminated'), true);
    assert.deepEqual(b.seen.closedHere, [[id, 'terminated']]);
    await until(() => a.seen.closedElsewhere.length === 1, 'closedElsewhere on node a');
    assert.deepEqual(a.seen.closedElsewhere, [[id, 'terminated']]);
    assert.deepEqual(a.seen.closedHere, [], 'the application event fires once, on the closing node');
    await Promise.all([a.engine.close(), b.engine.close()]);
  });

  test('message bodies are freed once every recipient acked or dropped them', async () => {
    const [a] = (await cluster('x3:', 1)) as [Node];
    const ids = ['s-a', 's-b', 's-c'];
    for (const id of ids) {
      await a.engine.openSession({ id, address: `addr-${id}`, protocol: 'lpio', user: undefined });
      await a.engine.subscribe(id, ['/all']);
    }
    for (let i = 0; i < 5; i++) await a.engine.publish('/all', message(i, { path: '/all' }), undefined);
    // Bodies live in the epoch's keyspace: x3:<epoch>:m:<mid>.
    const bodies = async () =>
      (await redis!.command('KEYS', 'x3:*:m:*')).split('\r\n').filter((l) => l.startsWith('x3:'));
    assert.equal((await bodies()).length, 5, 'one body per message, however many recipients');
    await a.engine.take('s-a', takeAll);
    await a.engine.ackUpTo('s-a', 5);
    await a.engine.take('s-b', takeAll);
    assert.equal((await bodies()).length, 5, 'still owed to s-b and s-c');
    await a.engine.ackUpTo('s-b', 3);
    await a.engine.closeSession('s-b', 'terminated');
    await a.engine.closeSession('s-c', 'terminated');
    assert.deepEqual(await bodies(), []);
    await a.engine.close();
  });

  test('Redis down: calls fail fast with SB_ERR_ENGINE_UNAVAILABLE; after a restart without data, sessions are reported lost', async () => {
    const [a] = (await cluster('x4:', 1, { inactivityTimeoutMs: 60_000 })) as [Node];
    await a.engine.openSession({ id: 'before', address: 'addr-before', protocol: 'lpio', user: undefined });
    await redis!.kill();
    await assert.rejects(a.engine.getSession('before'), { code: 'SB_ERR_ENGINE_UNAVAILABLE' });
    await assert.rejects(a.engine.publish('/x', message(1), undefined), {
      code: 'SB_ERR_ENGINE_UNAVAILABLE',
    });
    await redis!.restart();
    await until(() => a.seen.wakeAll > 0, 'the engine to reconnect', 10_000);
    assert.ok(a.seen.errors.includes('SB_ERR_ENGINE_UNAVAILABLE'), 'the lost connection was reported');
    assert.deepEqual(await a.engine.getSession('before'), { status: 'closed', reason: 'lost' });
    assert.equal(a.seen.lost, 1, 'the node told the hub its sessions were lost');
    assert.ok(
      a.seen.errorMessages.some((m) =>
        /^Redis lost or rolled back the cluster's data \(a restart or a flush\): now in epoch \S+; sessions of the old data are reported lost$/.test(
          m,
        ),
      ),
      'and the operator why',
    );
    const fresh = await a.engine.openSession({
      id: 'after',
      address: 'addr-after',
      protocol: 'lpio',
      user: undefined,
    });
    assert.equal(fresh.status, 'open', 'service resumes');
    await a.engine.close();
  });

  test('a dropped connection to a Redis that did not restart keeps the epoch and every session', async () => {
    const [a] = (await cluster('x5:', 1)) as [Node];
    await a.engine.openSession({ id: 'kept', address: 'addr-kept', protocol: 'lpio', user: undefined });
    const epoch = await redis!.command('GET', 'x5:epoch');
    // Every client connection of this Redis is cut; the server itself runs on.
    assert.match(await redis!.command('CLIENT', 'KILL', 'TYPE', 'normal'), /^:[1-9]/);
    await until(() => a.seen.wakeAll > 0, 'the engine to reconnect', 10_000);
    assert.equal(await redis!.command('GET', 'x5:epoch'), epoch, 'no new epoch for a mere reconnect');
    assert.equal(a.seen.lost, 0, 'nothing was reported lost');
    const found = await a.engine.getSession('kept');
    assert.equal(found.status, 'open');
    await a.engine.close();
  });

  test('onState listeners of messages Redis lost in a restart hear `dropped`', async () => {
    const [a] = (await cluster('x6:', 1, { inactivityTimeoutMs: 60_000 })) as [Node];
    await a.engine.openSession({ id: 'doomed', address: 'addr-doomed', protocol: 'lpio', user: undefined });
    const sentOne: string[] = [];
    const unsentOne: string[] = [];
    await a.engine.enqueue('doomed', message('sent', { onState: (s) => sentOne.push(s) }), 'reject');
    await a.engine.take('doomed', { ...takeAll, maxMessages: 1 });
    await a.engine.enqueue('doomed', message('unsent', { onState: (s) => unsentOne.push(s) }), 'reject');
    assert.deepEqual([sentOne, unsentOne], [['unsent', 'sent'], ['unsent']]);
    await redis!.restart();
    await until(
      () => sentOne.length === 3 && unsentOne.length === 2,
      'the listeners to hear of the loss',
      10_000,
    );
    assert.deepEqual(
      [sentOne, unsentOne],
      [
        ['unsent', 'sent', 'dropped'],
        ['unsent', 'dropped'],
      ],
    );
    await a.engine.close();
  });

  test('a restart from an older snapshot starts a new epoch and deletes the old keyspace in the background', async () => {
    const [a, b] = (await cluster('x7:', 2, { inactivityTimeoutMs: 60_000 })) as [Node, Node];
    for (const id of ['old-1', 'old-2']) {
      await a.engine.openSession({ id, address: `addr-${id}`, protocol: 'lpio', user: undefined });
      await a.engine.subscribe(id, ['/old']);
    }
    await a.engine.publish('/old', message('from the snapshot', { path: '/old' }), undefined);
    assert.equal(await redis!.command('SAVE'), '+OK\r\n');
    await redis!.kill();
    await redis!.restart({ keepData: true });
    await until(() => a.seen.wakeAll > 0 && b.seen.wakeAll > 0, 'both engines to resync', 10_000);
    assert.deepEqual(await a.engine.getSession('old-1'), { status: 'closed', reason: 'lost' });
    assert.deepEqual(await b.engine.getSession('old-2'), { status: 'closed', reason: 'lost' });
    // Both nodes agree on one new keyspace: what one opens, the other finds.
    await b.engine.openSession({ id: 'new-1', address: 'addr-new-1', protocol: 'lpio', user: undefined });
    assert.equal((await a.engine.getSession('new-1')).status, 'open');
    const epoch = /^\$\d+\r\n(.*)\r\n$/.exec(await redis!.command('GET', 'x7:epoch'))?.[1];
    assert.ok(epoch, 'an epoch');
    const keys = async () =>
      (await redis!.command('KEYS', 'x7:*')).split('\r\n').filter((line) => line.startsWith('x7:'));
    const stray = async () =>
      (await keys()).filter(
        (key) => !key.startsWith(`x7:${epoch}:`) && !['x7:epoch', 'x7:run'].includes(key),
      );
    await eventually(async () => (await stray()).length === 0, 'the old keyspace to be deleted');
    assert.ok((await keys()).includes(`x7:${epoch}:s:new-1`));
    await Promise.all([a.engine.close(), b.engine.close()]);
  });

  test('a node that hears an event of a newer epoch enters it before its own next call', async () => {
    const [a, b] = (await cluster('x8:', 2, { inactivityTimeoutMs: 60_000 })) as [Node, Node];
    await a.engine.openSession({ id: 'x8-old', address: 'addr-x8-old', protocol: 'lpio', user: undefined });
    const old = /^\$\d+\r\n(.*)\r\n$/.exec(await redis!.command('GET', 'x8:epoch'))?.[1];
    assert.ok(old);
    // The epoch key alone goes (an eviction, a careless DEL): the data it named counts as lost.
    await redis!.command('DEL', 'x8:epoch');
    assert.deepEqual(await a.engine.getSession('x8-old'), { status: 'closed', reason: 'lost' });
    // Sessions not found are reported lost for twice the inactivity timeout: long enough for every
    // client of a lost session to come back and be told.
    const epoch = /^\$\d+\r\n(.*)\r\n$/.exec(await redis!.command('GET', 'x8:epoch'))?.[1];
    const ttl = Number(/^:(\d+)/.exec(await redis!.command('PTTL', `x8:${epoch}:lost`))?.[1]);
    assert.ok(ttl > 60_000 && ttl <= 120_000, `lost marker lives ${ttl} ms`);
    await a.engine.openSession({ id: 'x8-new', address: 'addr-x8-new', protocol: 'lpio', user: undefined });
    // A pattern change goes out as an event, stamped with the new epoch.
    await a.engine.subscribe('x8-new', ['/x8']);
    await until(() => b.seen.wakeAll > 0, 'node b to enter the new epoch');
    assert.ok(b.seen.errors.includes('SB_ERR_ENGINE_UNAVAILABLE'), 'node b reported the data loss');
    assert.equal((await b.engine.publish('/x8', message('hi', { path: '/x8' }), undefined)).queued, 1);
    // Node a started the new epoch over the keyspace it knew, and deletes that.
    const leftovers = () => redis!.command('KEYS', `x8:${old}:*`);
    await eventually(async () => (await leftovers()) === '*0\r\n', 'the old keyspace to be deleted');
  });

  test('after a reconnection nothing runs on the new connection before INFO server and the epoch check', async (t) => {
    const own = await startRedis();
    t.after(() => own.stop());
    const engine = new RedisEngine({ url: own.url, prefix: 'gate:' });
    engines.push(engine);
    let wakeAll = 0;
    await engine.start({
      limits: resolveSettings({}),
      now: Date.now,
      counters: { count: () => undefined },
      events: { wake: () => undefined, sessionClosed: () => undefined, wakeAll: () => wakeAll++ },
    });
    await engine.openSession({ id: 'g', address: 'addr-g', protocol: 'lpio', user: undefined });
    // The engine's command connection: not its subscriber, not this query, not MONITOR.
    const listed = (await own.command('CLIENT', 'LIST')).split('\n').filter((l) => l.startsWith('id='));
    const field = (line: string, name: string) => new RegExp(`(?:^| )${name}=(\\S*)`).exec(line)?.[1];
    const commandClient = listed.find((l) => field(l, 'sub') === '0' && field(l, 'cmd') !== 'client|list');
    const subscriber = listed.find((l) => field(l, 'sub') !== '0');
    assert.ok(commandClient && subscriber, listed.join('\n'));
    const seen = await monitor(own.port);
    t.after(() => seen.close());
    // Calls keep coming while the connection is cut and made again: none may be the first on it.
    // While it is down they fail, and only as the engine says they do (bounded: 100,000 calls).
    let calling = true;
    const failures = new Set<string>();
    const calls = (async () => {
      for (let n = 0; calling && n < 100_000; n++) {
        await engine.getSession('g').catch((error: { code?: string }) => failures.add(String(error.code)));
        await new Promise((r) => setImmediate(r));
      }
    })();
    assert.match(await own.command('CLIENT', 'KILL', 'ID', field(commandClient, 'id') ?? ''), /^:1/);
    await until(() => wakeAll > 0, 'the engine to reconnect and resync');
    assert.equal((await engine.getSession('g')).status, 'open', 'no new epoch for a reconnection');
    calling = false;
    await calls;
    assert.deepEqual(
      [...failures].filter((code) => code !== 'SB_ERR_ENGINE_UNAVAILABLE'),
      [],
    );
    const before = new Set([field(commandClient, 'addr'), field(subscriber, 'addr')]);
    // The client's own handshake (HELLO, CLIENT SETINFO) comes before it reports the connection ready.
    const handshake = new Set(['HELLO', 'CLIENT']);
    const onNewConnection = seen
      .commands()
      .filter(
        (c) => !before.has(c.addr) && c.addr !== 'lua' && !handshake.has(c.args[0]?.toUpperCase() ?? ''),
      );
    assert.deepEqual(
      onNewConnection.slice(0, 2).map((c) => (c.args[0] === 'EVALSHA' ? ['EVALSHA', c.args[4]] : c.args)),
      [
        ['INFO', 'server'],
        ['EVALSHA', 'epoch'],
      ],
    );
    assert.ok(
      onNewConnection.some((c) => c.args[0] === 'EVALSHA' && c.args[4] === 'get'),
      'the calls went on afterwards',
    );
  });
});

describe('redis engine: the event stream', () => {
  /** The epoch `prefix` names now, read from Redis. */
  async function currentEpoch(prefix: string): Promise<string> {
    const epoch = /^\$\d+\r\n(.*)\r\n$/.exec(await redis!.command('GET', `${prefix}epoch`))?.[1];
    assert.ok(epoch, 'an epoch is set');
    return epoch;
  }
  /** An event as another node's script call would publish it. */
  async function publishEvent(prefix: string, event: unknown): Promise<void> {
    await redis!.command('PUBLISH', `${prefix}ev`, typeof event === 'string' ? event : JSON.stringify(event));
  }

  test("another node's events wake sessions (urgently or not), report pressure and closes; unreadable ones are ignored", async () => {
    const [a] = (await cluster('x10:', 1)) as [Node];
    const e = await currentEpoch('x10:');
    await publishEvent('x10:', 'not json');
    await publishEvent('x10:', { n: 'other', e, u: ['s-urgent'], w: ['s-normal'], p: ['s-full'] });
    await publishEvent('x10:', { n: 'other', e, c: [['s-closed', 'terminated']] });
    // Events arrive in order on one connection: the last one's effect proves the others were read.
    await until(() => a.seen.closedElsewhere.length > 0, 'the close event');
    assert.deepEqual(a.seen.wakes, ['s-urgent', 's-normal']);
    assert.deepEqual(a.seen.urgentWakes, ['s-urgent']);
    assert.deepEqual(a.seen.pressured, ['s-full']);
    assert.deepEqual(a.seen.closedElsewhere, [['s-closed', 'terminated']]);
    assert.deepEqual(a.seen.errors, []);
    await a.engine.close();
  });

  test('an event of an unknown epoch makes a node check which is current, once; what it says is not applied', async () => {
    const [a] = (await cluster('x11:', 1)) as [Node];
    const e = await currentEpoch('x11:');
    /** Every wake-up and check that events asked for so far has happened once this returns. */
    const settled = async (marker: string) => {
      await publishEvent('x11:', { n: 'other', e, w: [marker] });
      await until(() => a.seen.wakes.includes(marker), `the wake-up of ${marker}`);
      // A call waits at the gate for any check an event started.
      await a.engine.getSession('x11-nobody');
    };
    await publishEvent('x11:', { n: 'other', e: 'unknown1', w: ['s-unknown'] });
    await settled('m1');
    assert.equal(a.seen.wakeAll, 1, 'the node checked the epoch and caught up');
    await publishEvent('x11:', { n: 'other', e: 'unknown1', w: ['s-unknown'] });
    await settled('m2');
    assert.equal(a.seen.wakeAll, 1, 'an epoch checked already is not checked again');
    assert.deepEqual(a.seen.wakes, ['m1', 'm2'], 'nothing of another epoch was applied');
    assert.equal(await currentEpoch('x11:'), e, 'the cluster stayed in its epoch');
    await a.engine.close();
  });

  test('a node remembers the last 16 epochs it checked; an older one is checked again', async () => {
    const [a] = (await cluster('x12:', 1)) as [Node];
    const e = await currentEpoch('x12:');
    let markers = 0;
    const settled = async () => {
      const marker = `m${++markers}`;
      await publishEvent('x12:', { n: 'other', e, w: [marker] });
      await until(() => a.seen.wakes.includes(marker), `the wake-up of ${marker}`);
      await a.engine.getSession('x12-nobody');
    };
    for (let i = 1; i <= 17; i++) {
      await publishEvent('x12:', { n: 'other', e: `past${i}` });
      await settled();
      assert.equal(a.seen.wakeAll, i, `epoch past${i} checked`);
    }
    // past2 to past17 are remembered; past1 was forgotten.
    await publishEvent('x12:', { n: 'other', e: 'past2' });
    await settled();
    assert.equal(a.seen.wakeAll, 17);
    await publishEvent('x12:', { n: 'other', e: 'past1' });
    await settled();
    assert.equal(a.seen.wakeAll, 18);
    await a.engine.close();
  });

  test('a node whose event connection dropped catches up on what it missed: every connection takes again', async () => {
    const [a] = (await cluster('x13:', 1)) as [Node];
    assert.equal(a.seen.wakeAll, 0);
    assert.match(await redis!.command('CLIENT', 'KILL', 'TYPE', 'pubsub'), /^:[1-9]/);
    await until(() => a.seen.wakeAll > 0, 'the node to resync after its subscriber reconnected', 10_000);
    const e = await currentEpoch('x13:');
    await publishEvent('x13:', { n: 'other', e, w: ['after'] });
    await until(() => a.seen.wakes.includes('after'), 'events again');
    await a.engine.close();
  });

  test('a node that cannot reach Redis at start fails at once, with the cause', async () => {
    const port = await freePort();
    const engine = new RedisEngine({ url: `redis://127.0.0.1:${port}` });
    engines.push(engine);
    await assert.rejects(
      engine.start({
        limits: resolveSettings({}),
        now: Date.now,
        counters: { count: () => undefined },
        events: { wake: () => undefined, sessionClosed: () => undefined },
      }),
      { code: 'SB_ERR_ENGINE_UNAVAILABLE', message: /ECONNREFUSED/ },
    );
  });

  test('a script Redis forgot (SCRIPT FLUSH) is loaded again and the call goes through', async () => {
    const [a] = (await cluster('x14:', 1)) as [Node];
    assert.match(await redis!.command('SCRIPT', 'FLUSH'), /^\+OK/);
    const opened = await a.engine.openSession({
      id: 'x14',
      address: 'addr-x14',
      protocol: 'lpio',
      user: undefined,
    });
    assert.equal(opened.status, 'open');
    assert.deepEqual(a.seen.errors, []);
    await a.engine.close();
  });

  test('the engine is named, and keys live under the prefix sb: unless told otherwise', async () => {
    const engine = new RedisEngine({ url: redis!.url });
    engines.push(engine);
    assert.equal(engine.name, 'redis');
    await engine.start({
      limits: resolveSettings({}),
      now: Date.now,
      counters: { count: () => undefined },
      events: { wake: () => undefined, sessionClosed: () => undefined },
    });
    assert.match(await redis!.command('EXISTS', 'sb:epoch'), /^:1/);
    // Counted for the benchmark: a script call is one command.
    const before = engine.calls;
    await engine.getSession('nobody');
    assert.equal(engine.calls, before + 1);
    await engine.close();
  });
});

type Node = Awaited<ReturnType<typeof cluster>>[number];

/** A loopback port nothing listens on (it was free a moment ago). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** A raw MONITOR connection: every command Redis runs, with the client address that sent it. */
async function monitor(port: number) {
  const socket = connect(port, '127.0.0.1');
  const lines: string[] = [];
  let buffered = '';
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
      lines.push(buffered.slice(0, end));
      buffered = buffered.slice(end + 2);
    }
  });
  await once(socket, 'connect');
  socket.write('MONITOR\r\n');
  await until(() => lines.includes('+OK'), 'MONITOR to start');
  return {
    close: () => socket.destroy(),
    /** `+1700000000.123456 [0 127.0.0.1:54321] "INFO" "server"` as {addr, args}. */
    commands: () =>
      lines.flatMap((line) => {
        const match = /^\+[\d.]+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
        if (!match) return [];
        const args = [...(match[2] ?? '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? '');
        return [{ addr: match[1], args }];
      }),
  };
}
