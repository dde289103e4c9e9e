/**
 * The hub's side of the engine: what it does when the engine fails a take, reports an error, or
 * tells it of sessions closed on another node, lost with the store, or wake-ups it may have
 * missed (events only a shared engine sends, fired here by hand on the memory engine).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { SwitchboardError } from './errors.js';
import type { Identity } from './hooks.js';
import { MemoryEngine } from '../engine/memory/memory-engine.js';
import type { EngineContext, EngineEvents, TakeOptions, TakeRequest } from '../engine/engine.js';
import type { Batch } from './types.js';
import { newHub, Recorder } from '../../test/helpers/hub-harness.js';

/** The memory engine, with takes that fail on demand, wake-ups that can be held back, and its events at hand. */
class ShakyEngine extends MemoryEngine {
  failTakes = 0;
  /** Sessions whose wake-ups are held back. */
  readonly muted = new Set<string>();
  events: EngineEvents | undefined;

  override start(context: EngineContext): Promise<void> {
    this.events = context.events;
    const wake: EngineEvents['wake'] = (id, urgent) => {
      if (!this.muted.has(id)) context.events.wake(id, urgent);
    };
    return super.start({ ...context, events: { ...context.events, wake } });
  }

  override takeMany(requests: readonly TakeRequest[], limits: Omit<TakeOptions, 'resend'>): Promise<Batch[]> {
    if (this.failTakes > 0) {
      this.failTakes--;
      return Promise.reject(new SwitchboardError('SB_ERR_ENGINE_UNAVAILABLE', 'the store is away'));
    }
    return super.takeMany(requests, limits);
  }
}

const peer: Identity = { user: undefined, peer: '10.0.0.1' };

test('a take the engine fails is warned of and tried again: the connection gets its message', async (t) => {
  const engine = new ShakyEngine();
  const hub = newHub(t, { engine });
  const warnings: string[] = [];
  hub.on('warning', (error) => warnings.push(error.code));
  const session = await hub.openSession('websocket', peer);
  engine.failTakes = 1;
  const connection = new Recorder();
  hub.connect(session.id, connection);
  await hub.send(session.id, 'through');
  await connection.until(() => connection.data.length === 1, 'the message, after the retry');
  assert.deepEqual(connection.data, ['through']);
  assert.deepEqual(warnings, ['SB_ERR_ENGINE_UNAVAILABLE']);
  assert.equal(engine.failTakes, 0);
});

test('engine errors are counted every time and warned of at most every 5 s', async (t) => {
  let now = 1_000;
  const engine = new ShakyEngine();
  const hub = newHub(t, { engine, now: () => now });
  await hub.start();
  const warnings: string[] = [];
  hub.on('warning', (error) => warnings.push(error.message));
  const fail = (message: string) =>
    engine.events?.engineError?.(new SwitchboardError('SB_ERR_ENGINE_UNAVAILABLE', message));
  fail('first');
  now += 4_999;
  fail('within 5 s');
  now += 1;
  fail('5 s after the first warning');
  assert.deepEqual(warnings, ['first', '5 s after the first warning']);
  assert.equal((await hub.stats()).counters.engine_errors, 3);
});

test('a session closed on another node ends its connection here and stops counting against its address', async (t) => {
  const engine = new ShakyEngine();
  const hub = newHub(t, { engine, settings: { maxSessionsPerAddress: 1 } });
  const session = await hub.openSession('websocket', peer);
  const connection = new Recorder();
  hub.connect(session.id, connection);
  await assert.rejects(hub.openSession('websocket', peer), { code: 'SB_ERR_RATE_LIMITED' });
  // The memory engine still holds the session open: only the event frees the address's count.
  engine.events?.closedElsewhere?.(session.id, 'terminated');
  assert.deepEqual(
    connection.closes.map((reason) => reason.name),
    ['terminated'],
  );
  await hub.openSession('websocket', peer);
});

test('sessions lost with the store stop counting against their addresses', async (t) => {
  const engine = new ShakyEngine();
  const hub = newHub(t, { engine, settings: { maxSessionsPerAddress: 1 } });
  await hub.openSession('websocket', peer);
  await assert.rejects(hub.openSession('websocket', peer), { code: 'SB_ERR_RATE_LIMITED' });
  engine.events?.sessionsLost?.();
  await hub.openSession('websocket', peer);
});

test('after wake-ups may have been missed, every live connection takes again', async (t) => {
  const engine = new ShakyEngine();
  const hub = newHub(t, { engine });
  const connected = async (protocol: 'websocket' | 'lpio') => {
    const session = await hub.openSession(protocol, peer);
    const connection = new Recorder();
    hub.connect(session.id, connection);
    return { session, connection };
  };
  const parties = [await connected('websocket'), await connected('lpio')];
  const marker = await connected('websocket');
  // A marker message through a wake-up proves a flush pass ran after each step.
  let markers = 0;
  const passed = async () => {
    await hub.send(marker.session.id, `marker ${++markers}`);
    await marker.connection.until(() => marker.connection.data.length === markers, 'the marker');
  };
  await passed(); // the connections' first takes are done
  for (const { session } of parties) {
    engine.muted.add(session.id);
    await hub.send(session.id, `for ${session.protocol}`);
  }
  await passed();
  assert.deepEqual(
    parties.map(({ connection }) => connection.data),
    [[], []],
    'no wake-up, nothing taken',
  );
  engine.events?.wakeAll?.();
  for (const { connection } of parties)
    await connection.until(() => connection.data.length === 1, 'the message');
  assert.deepEqual(
    parties.map(({ connection }) => connection.data),
    [['for websocket'], ['for lpio']],
  );
});
