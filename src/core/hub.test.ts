/**
 * The hub on the memory engine, without sockets: a recording Connection
 * (test/helpers/hub-harness.ts) stands where an adapter's connection would, and the clock is the
 * hub's `now` option. What the adapters and the server
 * tests check end to end (test/integration) is checked here at the hub's own API, so that a bug in
 * the hub fails a test in milliseconds.
 */
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { test } from 'node:test';
import { Hub } from './hub.js';
import { SwitchboardError } from './errors.js';
import type { CloseReason, CloseReasonName } from './close-reasons.js';
import {
  anonymous,
  deliver,
  message,
  newHub,
  Recorder,
  rejectsWith,
  STRONG_ID,
  throwsWith,
} from '../../test/helpers/hub-harness.js';

test('send queues for one session; unknown sessions and full queues reject and count nothing', async (t) => {
  const hub = newHub(t, { settings: { maxQueueMessages: 2 } });
  await rejectsWith(hub.send('nobody', 'x'), 'SB_ERR_NO_SESSION', /nobody/);
  const session = await hub.openSession('websocket', anonymous);
  await hub.send(session.id, 'a');
  await hub.send(session.id, 'b');
  await rejectsWith(hub.send(session.id, 'c'), 'SB_ERR_QUEUE_FULL', /full \(2 messages or 1048576 bytes\)/);
  const queue = await hub.inspect(session.id);
  assert.equal(queue?.unsent.length, 2);
  assert.equal((await hub.stats()).counters.sent_direct, 2);
});

test('publish reaches subscribers only; bad and /meta paths are refused', async (t) => {
  const hub = newHub(t);
  const reader = await hub.openSession('websocket', anonymous);
  const other = await hub.openSession('websocket', anonymous);
  await hub.subscribe(reader.id, '/room/*');
  await hub.publish('/room/1', 'hello');
  assert.equal((await hub.inspect(reader.id))?.unsent.length, 1);
  assert.equal((await hub.inspect(other.id))?.unsent.length, 0);
  await hub.unsubscribe(reader.id, '/room/*');
  await hub.publish('/room/1', 'again');
  assert.equal((await hub.inspect(reader.id))?.unsent.length, 1);
  await rejectsWith(hub.publish('no-slash', 'x'), 'SB_ERR_BAD_PATH');
  await rejectsWith(hub.publish('/meta', 'x'), 'SB_ERR_BAD_PATH', /reserved/);
  await rejectsWith(hub.publish('/meta/x', 'x'), 'SB_ERR_BAD_PATH', /reserved/);
  await hub.publish('/metadata', 'x'); // only /meta and below are reserved
  assert.equal((await hub.stats()).counters.published, 3);
});

test('authenticate: no hook is anonymous; the hook admits, names or refuses; its errors pass as codes', async (t) => {
  const request = {
    protocol: 'lpio' as const,
    method: 'POST',
    url: '/',
    headers: {},
    remoteAddress: '10.0.0.1',
    body: undefined,
    sessionId: undefined,
  };
  assert.deepEqual(await newHub(t).authenticate(request), { user: undefined, peer: '10.0.0.1' });
  const answers: unknown[] = [true, { user: 'ann' }, { user: 5 }, {}];
  const expected = [undefined, 'ann', undefined, undefined];
  for (const [i, answer] of answers.entries()) {
    const hub = newHub(t, { auth: () => answer as boolean });
    assert.deepEqual(await hub.authenticate(request), { user: expected[i], peer: '10.0.0.1' }, String(i));
  }
  for (const answer of [false, null, 0, 'yes', undefined]) {
    const hub = newHub(t, { auth: () => answer as boolean });
    await rejectsWith(hub.authenticate(request), 'SB_ERR_FORBIDDEN', /auth hook rejected/);
  }
  const coded = newHub(t, {
    auth: () => {
      throw new SwitchboardError('SB_ERR_RATE_LIMITED', 'slow down');
    },
  });
  await rejectsWith(coded.authenticate(request), 'SB_ERR_RATE_LIMITED');
  const failing = newHub(t, { auth: () => Promise.reject(new Error('db down')) });
  await rejectsWith(failing.authenticate(request), 'SB_ERR_INTERNAL');
});

test("assertOwner: a user's session is only theirs; an anonymous session is its id's holder's", async (t) => {
  const hub = newHub(t);
  const owned = await hub.openSession('websocket', { user: 'ann' });
  hub.assertOwner(owned, { user: 'ann' });
  throwsWith(() => hub.assertOwner(owned, { user: 'bob' }), 'SB_ERR_FORBIDDEN', /belongs to another user/);
  throwsWith(() => hub.assertOwner(owned, { user: undefined }), 'SB_ERR_FORBIDDEN');
  const open = await hub.openSession('websocket', anonymous);
  hub.assertOwner(open, { user: 'bob' });
  hub.assertOwner(open, anonymous);
});

test('openSession: chosen ids, weak ids, the open hook, and the events', async (t) => {
  const opened: string[] = [];
  const closed: Array<[string, CloseReasonName]> = [];
  const hub = newHub(t, {
    onSessionOpen: (session) => {
      if (session.user === 'refused') return false;
      if (session.user === 'broken') throw new Error('hook bug');
      return session.user === 'reader' ? ['/news/**'] : undefined;
    },
  });
  hub.on('sessionOpen', (session) => opened.push(session.id));
  hub.on('sessionClose', (session, reason) => closed.push([session.id, reason.name]));

  const chosen = await hub.openSession('lpio', anonymous, { id: STRONG_ID });
  assert.equal(chosen.id, STRONG_ID);
  assert.equal(chosen.protocol, 'lpio');
  assert.notEqual(chosen.address, chosen.id);
  await rejectsWith(
    hub.openSession('lpio', anonymous, { id: 'weak' }),
    'SB_ERR_WEAK_CLIENT_ID',
    /must look random/,
  );
  assert.equal((await hub.openSession('lpio', anonymous, { id: 'weak', allowWeakId: true })).id, 'weak');
  assert.equal((await hub.openSession('lpio', { user: 'ann' }, { id: 'weak2' })).id, 'weak2');

  const random = await hub.openSession('websocket', anonymous);
  assert.match(random.id, /^[A-Za-z0-9_-]{22}$/);
  assert.match(random.address, /^[A-Za-z0-9_-]{22}$/);

  const reader = await hub.openSession('websocket', { user: 'reader' });
  await hub.publish('/news/today', 'n');
  assert.equal((await hub.inspect(reader.id))?.unsent.length, 1);
  assert.equal((await hub.inspect(random.id))?.unsent.length, 0);

  await rejectsWith(hub.openSession('websocket', { user: 'refused' }), 'SB_ERR_FORBIDDEN', /refused/);
  await rejectsWith(hub.openSession('websocket', { user: 'broken' }), 'SB_ERR_INTERNAL');
  // The refused and the broken sessions were opened, then closed: nothing of them stays.
  assert.equal(closed.length, 2);
  for (const [id, reason] of closed) {
    assert.equal(reason, 'not_allowed');
    assert.equal(await hub.session(id), undefined);
  }
  assert.deepEqual(opened, [STRONG_ID, 'weak', 'weak2', random.id, reader.id]);
  assert.equal((await hub.stats()).counters.sessions_opened, 7);
});

test('openSession past the memory budget is refused with 503 and a retry hint', async (t) => {
  const hub = newHub(t, { settings: { memoryBudgetBytes: 1 } });
  await assert.rejects(hub.openSession('websocket', anonymous), (error: unknown) => {
    assert.ok(error instanceof SwitchboardError);
    assert.equal(error.code, 'SB_ERR_OVERLOADED');
    assert.equal(error.retryAfter, 5);
    assert.match(error.message, /memory budget \(0 MiB/);
    return true;
  });
  const roomy = newHub(t, { settings: { memoryBudgetBytes: 2 ** 50 } });
  await roomy.openSession('websocket', anonymous);
  const off = newHub(t, { settings: { memoryBudgetBytes: 0 } });
  await off.openSession('websocket', anonymous);
});

test('openSession: an address holding its maximum of sessions is refused until one closes', async (t) => {
  const hub = newHub(t, { settings: { maxSessionsPerAddress: 2 } });
  const first = await hub.openSession('websocket', anonymous);
  await hub.openSession('websocket', anonymous);
  await rejectsWith(hub.openSession('websocket', anonymous), 'SB_ERR_RATE_LIMITED');
  await hub.openSession('websocket', { user: undefined, peer: '127.0.0.2' });
  assert.equal(await hub.closeSession(first.id), true);
  await hub.openSession('websocket', anonymous);
});

test('receive: acks first, then each new message once; subscriptions are not messages', async (t) => {
  const hub = newHub(t, { settings: { maxSubscriptions: 1 } });
  const session = await hub.openSession('websocket', anonymous);
  const seen: unknown[] = [];
  hub.on('message', (m, s) => seen.push([m.data, s.id]));
  await deliver(hub, session, [message('1'), message('2')]);
  await deliver(hub, session, [message('2'), message('3')]);
  assert.deepEqual(seen, [
    ['1', session.id],
    ['2', session.id],
    ['3', session.id],
  ]);
  const prepared = await hub.prepare(session, [
    message('4', { path: '/meta/subscribe', data: '/a' }),
    message('5', { path: '/meta/subscribe', data: '/b' }),
    message('6', { path: '/meta/unsubscribe', data: '/a' }),
  ]);
  const refused = await hub.receive(session, prepared.messages, []);
  assert.deepEqual(
    refused.map(({ id, error }) => [id, error.code]),
    [['5', 'SB_ERR_TOO_MANY_SUBSCRIPTIONS']],
  );
  assert.match(refused[0]?.error.message ?? '', /at most 1 subscriptions/);
  assert.equal(seen.length, 3);
  const stats = await hub.stats();
  assert.equal(stats.counters.messages_in, 3);
  assert.equal(stats.counters.requests, 3);
  assert.deepEqual(await hub.receive(session, [], []), []);
});

test('receive: a message past the pending-ack bound (half the dedupe window) is refused, retry in 1 s', async (t) => {
  const hub = newHub(t, { settings: { dedupeWindow: 4 } });
  const session = await hub.openSession('websocket', anonymous);
  const prepared = await hub.prepare(session, [message('1'), message('2'), message('3')]);
  const refused = await hub.receive(session, prepared.messages, []);
  assert.deepEqual(
    refused.map(({ id, error }) => [id, error.code, error.retryAfter]),
    [['3', 'SB_ERR_ACKS_PENDING', 1]],
  );
  assert.match(refused[0]?.error.message ?? '', /holds 2 acks its client has not taken/);
  assert.equal((await hub.stats()).counters.acks_pending, 1);
});

test('a connection gets what is queued, acks included, then what comes; ackUpTo delivers', async (t) => {
  const hub = newHub(t);
  const session = await hub.openSession('websocket', anonymous);
  await hub.send(session.id, 'queued');
  await deliver(hub, session, [message('c1')]);
  const connection = new Recorder();
  hub.connect(session.id, connection);
  await connection.until(() => connection.ids.length === 1, 'the queued message');
  assert.deepEqual(connection.writes[0]?.acks, ['c1']);
  await hub.send(session.id, 'live');
  await connection.until(() => connection.ids.length === 2, 'the live message');
  assert.deepEqual(connection.data, ['queued', 'live']);
  assert.deepEqual(connection.ids, [1, 2]);
  await hub.ackUpTo(session, 1);
  const queue = await hub.inspect(session.id);
  assert.deepEqual(
    queue?.unacked.map((m) => m.id),
    [2],
  );
  const stats = await hub.stats();
  assert.equal(stats.counters.messages_out, 2);
  assert.equal(stats.counters.acks_out, 1);
  assert.deepEqual(stats.liveConnectionsByProtocol, { websocket: 1 });
});

test('a batching window gathers what comes within it into one write', async (t) => {
  const hub = newHub(t, { settings: { batchWindowMs: 30 } });
  const session = await hub.openSession('lpio', anonymous);
  const connection = new Recorder('lpio', false, false, false, false);
  hub.connect(session.id, connection);
  await hub.send(session.id, 'a');
  await hub.send(session.id, 'b');
  await connection.until(() => connection.ids.length === 2, 'both');
  assert.equal(connection.writes.length, 1);
  // Urgent skips the window: it is written on the next turn even though the window is long.
  await hub.send(session.id, 'now', { urgent: true });
  await connection.until(() => connection.ids.length === 3, 'the urgent one');
});

test('eager connections write an empty first batch; others write only what there is', async (t) => {
  const hub = newHub(t);
  const session = await hub.openSession('websocket', anonymous);
  const eager = new Recorder('websocket', false, false, true);
  hub.connect(session.id, eager);
  await eager.until(() => eager.writes.length === 1, 'the eager write');
  assert.deepEqual(eager.writes[0], { acks: [], deliveries: [] });
  await hub.send(session.id, 'x');
  await eager.until(() => eager.writes.length === 2, 'the message');
  hub.disconnect(session.id, eager);
  const quiet = new Recorder();
  hub.connect(session.id, quiet);
  hub.disconnect(session.id, quiet);
  hub.connect(session.id, quiet);
  await hub.send(session.id, 'y');
  await quiet.until(() => quiet.ids.length === 1, 'y');
  assert.deepEqual(quiet.data, ['y']);
});

test('a one-shot connection takes one batch and is detached; the next message waits for the next', async (t) => {
  const hub = newHub(t);
  const session = await hub.openSession('lpio', anonymous);
  const poll = new Recorder('lpio', true);
  hub.connect(session.id, poll);
  await hub.send(session.id, 'first');
  await poll.until(() => poll.writes.length === 1, 'first');
  await hub.send(session.id, 'second');
  assert.deepEqual((await hub.stats()).liveConnectionsByProtocol, {});
  const next = new Recorder('lpio', true);
  hub.connect(session.id, next);
  await next.until(() => next.writes.length === 1, 'second');
  assert.deepEqual(next.data, ['second']);
  assert.equal(poll.writes.length, 1);
  assert.deepEqual(poll.closes, []);
});

test('a one-shot connection held with nothing to write ends with hold_timeout', async (t) => {
  const hub = newHub(t, { settings: { holdTimeoutMs: 20 } });
  const session = await hub.openSession('lpio', anonymous);
  const poll = new Recorder('lpio', true);
  hub.connect(session.id, poll);
  await poll.until(() => poll.closes.length === 1, 'the hold timeout');
  assert.equal(poll.closes[0]?.name, 'hold_timeout');
  assert.equal(poll.writes.length, 0);
  assert.equal((await hub.stats()).counters.hold_timeouts, 1);
  // A stream is not held: a poll attached after it has timed out, the stream is still open.
  const stream = new Recorder();
  hub.connect(session.id, stream);
  const other = await hub.openSession('lpio', anonymous);
  const later = new Recorder('lpio', true);
  hub.connect(other.id, later);
  await later.until(() => later.closes.length === 1, "the later poll's hold timeout");
  assert.deepEqual(stream.closes, []);
  await hub.send(session.id, 'a');
  await stream.until(() => stream.ids.length === 1, 'a');
});

test('backpressure: after write() says false nothing more is written until writable()', async (t) => {
  const hub = newHub(t);
  const session = await hub.openSession('websocket', anonymous);
  const connection = new Recorder();
  connection.accept = false;
  hub.connect(session.id, connection);
  await hub.send(session.id, 'a');
  await connection.until(() => connection.writes.length === 1, 'a');
  await hub.send(session.id, 'b');
  await hub.send(session.id, 'c');
  // Proof that the wake-up passed: a second session's connection got its message after it.
  const other = await hub.openSession('websocket', anonymous);
  const witness = new Recorder();
  hub.connect(other.id, witness);
  await hub.send(other.id, 'w');
  await witness.until(() => witness.writes.length === 1, 'the witness');
  assert.equal(connection.writes.length, 1);
  connection.accept = true;
  hub.writable(session.id, connection);
  await connection.until(() => connection.ids.length === 3, 'b and c');
  assert.deepEqual(connection.data, ['a', 'b', 'c']);
  hub.writable(session.id, new Recorder()); // not this session's connection: ignored
});

test('a full batch is followed by the rest at once', async (t) => {
  const hub = newHub(t, { settings: { maxBatchMessages: 2 } });
  const session = await hub.openSession('websocket', anonymous);
  for (let i = 0; i < 5; i++) await hub.send(session.id, i);
  const connection = new Recorder();
  hub.connect(session.id, connection);
  await connection.until(() => connection.ids.length === 5, 'five');
  assert.deepEqual(
    connection.writes.map((batch) => batch.deliveries.length),
    [2, 2, 1],
  );
});

test('a second connection supersedes the first; the unacked tail is re-sent to a resending one', async (t) => {
  const hub = newHub(t);
  const session = await hub.openSession('websocket', anonymous);
  const first = new Recorder();
  hub.connect(session.id, first);
  await hub.send(session.id, 'a');
  await first.until(() => first.ids.length === 1, 'a');
  const second = new Recorder('websocket', false, true);
  hub.connect(session.id, second);
  assert.deepEqual(
    first.closes.map((r) => r.name),
    ['superseded'],
  );
  await second.until(() => second.ids.length === 1, 'a again');
  assert.equal(second.writes[0]?.deliveries[0]?.retry, true);
  hub.disconnect(session.id, first); // the old one's late close changes nothing
  assert.deepEqual((await hub.stats()).liveConnectionsByProtocol, { websocket: 1 });
  assert.equal((await hub.stats()).counters.superseded, 1);
  // A non-resending connection does not get the unacked tail again.
  const third = new Recorder();
  hub.connect(session.id, third);
  await hub.send(session.id, 'b');
  await third.until(() => third.ids.length === 1, 'b');
  assert.deepEqual(third.data, ['b']);
});

test('closeConnection closes for its reason and counts it; the session stays', async (t) => {
  const hub = newHub(t);
  const session = await hub.openSession('websocket', anonymous);
  const connection = new Recorder();
  hub.connect(session.id, connection);
  hub.closeConnection(session.id, connection, { name: 'timeout', code: 4003 } as CloseReason);
  assert.deepEqual(
    connection.closes.map((r) => r.name),
    ['timeout'],
  );
  const stray = new Recorder();
  hub.closeConnection(session.id, stray, { name: 'timeout', code: 4003 } as CloseReason);
  assert.equal(stray.closes.length, 1);
  const stats = await hub.stats();
  assert.equal(stats.closeReasons.timeout, 2);
  assert.deepEqual(stats.liveConnectionsByProtocol, {});
  assert.ok(await hub.session(session.id));
});

test('closeSession ends the session and its live connection with the reason (default not_allowed)', async (t) => {
  const hub = newHub(t);
  const reasons: string[] = [];
  hub.on('sessionClose', (_, reason) => reasons.push(reason.name));
  const session = await hub.openSession('websocket', anonymous);
  const connection = new Recorder();
  hub.connect(session.id, connection);
  assert.equal(await hub.closeSession(session.id), true);
  assert.equal(await hub.closeSession(session.id), false);
  assert.deepEqual(
    connection.closes.map((r) => r.name),
    ['not_allowed'],
  );
  const other = await hub.openSession('websocket', anonymous);
  await hub.closeSession(other.id, 'terminated');
  assert.deepEqual(reasons, ['not_allowed', 'terminated']);
  const stats = await hub.stats();
  assert.equal(stats.counters.sessions_closed, 2);
  assert.deepEqual(stats.closeReasons, { not_allowed: 1, terminated: 1 });
  assert.equal(await hub.session(session.id), undefined);
  await rejectsWith(hub.send(session.id, 'x'), 'SB_ERR_NO_SESSION');
});

test('touch writes lastSeen only when half the touch interval has passed', async (t) => {
  let clock = 1_000_000;
  const hub = newHub(t, { now: () => clock, settings: { touchIntervalMs: 1_000 } });
  const session = await hub.openSession('lpio', anonymous);
  clock += 499;
  await hub.touch(session);
  assert.equal((await hub.session(session.id))?.lastSeen, 1_000_000);
  clock += 1;
  await hub.touch(session);
  assert.equal((await hub.session(session.id))?.lastSeen, 1_000_500);
});

test('the stale sweep closes connections with no I/O for staleAfterMs; noteIo keeps one alive', async (t) => {
  let clock = 1_000_000;
  const hub = newHub(t, { now: () => clock, settings: { staleAfterMs: 1_000, staleSweepMs: 10 } });
  const quiet = await hub.openSession('websocket', anonymous);
  const busy = await hub.openSession('websocket', anonymous);
  const quietConnection = new Recorder();
  const busyConnection = new Recorder();
  hub.connect(quiet.id, quietConnection);
  hub.connect(busy.id, busyConnection);
  clock += 1_000;
  hub.noteIo(busy.id);
  hub.noteIo('nobody');
  clock += 1; // quiet: 1,001 ms without I/O; busy: 1 ms
  await quietConnection.until(() => quietConnection.closes.length === 1, 'the stale close');
  assert.equal(quietConnection.closes[0]?.name, 'stale');
  assert.deepEqual(busyConnection.closes, []);
  assert.equal((await hub.stats()).counters.stale_culled, 1);
});

test('close ends live connections with shutdown; the hub then refuses sessions', async (t) => {
  const hub = newHub(t);
  const session = await hub.openSession('websocket', anonymous);
  const connection = new Recorder();
  hub.connect(session.id, connection);
  assert.equal(hub.closing, false);
  const closing = hub.close();
  assert.equal(hub.closing, true);
  await closing;
  await hub.close();
  assert.deepEqual(
    connection.closes.map((r) => r.name),
    ['shutdown'],
  );
  await rejectsWith(hub.openSession('websocket', anonymous), 'SB_ERR_SHUTTING_DOWN', /shutting down/);
});

test('stats before start report no sessions; owners are unique; warn emits', async (t) => {
  const hub = newHub(t);
  assert.deepEqual((await hub.stats()).sessionsByProtocol, {});
  await hub.openSession('lpio', anonymous);
  await hub.openSession('lpio', anonymous);
  await hub.openSession('websocket', anonymous);
  assert.deepEqual((await hub.stats()).sessionsByProtocol, { lpio: 2, websocket: 1 });
  const owners = new Set(Array.from({ length: 100 }, () => hub.newOwner()));
  assert.equal(owners.size, 100);
  const other = new Hub();
  t.after(() => other.close());
  assert.notEqual(other.newOwner().split('.')[0], hub.newOwner().split('.')[0]);
  const warned = once(hub, 'warning');
  hub.warn(new Error('odd'));
  const [warning] = (await warned) as [SwitchboardError];
  assert.equal(warning.code, 'SB_ERR_INTERNAL');
  hub.countRejected();
  assert.equal((await hub.stats()).counters.requests_rejected, 1);
});

test('lookupSession before start starts the hub; a claim is honoured', async (t) => {
  const hub = newHub(t);
  assert.equal((await hub.lookupSession('nobody')).status, 'unknown');
  const session = await hub.openSession('websocket', anonymous);
  const lookup = await hub.lookupSession(session.id, { owner: hub.newOwner(), user: undefined });
  assert.equal(lookup.status, 'open');
});

test('a connection whose socket closed while taking is detached, and its acks go to the next one', async (t) => {
  const hub = newHub(t);
  const session = await hub.openSession('websocket', anonymous);
  await deliver(hub, session, [message('m1')]);
  const gone = new Recorder();
  gone.closed = true;
  hub.connect(session.id, gone);
  const next = new Recorder();
  // The take for `gone` runs on the next turn; wait for it to have detached the connection.
  for (let i = 0; i < 100 && Object.keys((await hub.stats()).liveConnectionsByProtocol).length > 0; i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.deepEqual((await hub.stats()).liveConnectionsByProtocol, {});
  assert.equal(gone.writes.length, 0);
  hub.connect(session.id, next);
  await next.until(() => next.writes.length === 1, 'the acks');
  assert.deepEqual(next.writes[0]?.acks, ['m1']);
});

test('a connection whose session another request claimed (on another node) is closed as superseded at its next take', async (t) => {
  const hub = newHub(t);
  const session = await hub.openSession('websocket', anonymous);
  const mine = hub.newOwner();
  await hub.lookupSession(session.id, { owner: mine, user: undefined });
  const connection = new Recorder();
  hub.connect(session.id, connection, mine);
  await hub.send(session.id, 'first');
  await connection.until(() => connection.data.length === 1, 'the first message');
  // A request elsewhere claims the session; this node hears of it only at its next take.
  await hub.lookupSession(session.id, { owner: 'another-node:1', user: undefined });
  await hub.send(session.id, 'second');
  await connection.until(() => connection.closes.length === 1, 'the close');
  assert.deepEqual(
    connection.closes.map((reason) => reason.name),
    ['superseded'],
  );
  assert.deepEqual(connection.data, ['first'], 'the second message waits for the new owner');
  assert.equal((await hub.stats()).counters.superseded, 1);
});

test('a resuming connection gets the whole unacked tail again, however many batches it takes, then what is new', async (t) => {
  // Cumulative acks: a resumed client that got 1, 2 and then 6 would ack 3, 4 and 5 unseen.
  const hub = newHub(t, { settings: { maxBatchMessages: 2 } });
  const session = await hub.openSession('websocket', anonymous);
  const first = new Recorder();
  hub.connect(session.id, first);
  for (const data of ['a', 'b', 'c', 'd', 'e']) await hub.send(session.id, data);
  await first.until(() => first.ids.length === 5, 'all five');
  const resumed = new Recorder('websocket', false, true);
  hub.connect(session.id, resumed);
  await resumed.until(() => resumed.ids.length === 5, 'the tail again');
  await hub.send(session.id, 'f');
  await resumed.until(() => resumed.ids.length === 6, 'then f');
  assert.deepEqual(resumed.ids, [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(
    resumed.writes.map((batch) => batch.deliveries.map((d) => d.retry)),
    [[true, true], [true, true], [true], [false]],
    'one batch at a time',
  );
});
