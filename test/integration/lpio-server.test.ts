/**
 * LPIO server behaviour over real HTTP on 127.0.0.1 (seed 000's server list, supersede, hold
 * timeout, redelivery, dedupe, auth, bad input).
 */
import { strict as assert } from 'node:assert';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  attached,
  lpioPost,
  openLpioSession,
  startServer,
  type TestServer,
} from '../helpers/start-server.js';
import { liveConnections } from '../helpers/parties.js';

const settings = {
  maxSubscriptions: 2,
  holdTimeoutMs: 400,
  batchWindowMs: 5,
  maxBodyBytes: 4096,
  maxMessagesPerRequest: 3,
  maxMessageBytes: 256,
};

function poll(url: string, id: string, messages: unknown[] = [], signal?: AbortSignal) {
  return lpioPost(url, { messages }, { 'lpio-client': id }, signal);
}

function data(id: string, channel: string | undefined, payload: unknown) {
  return { type: 'data', id, ...(channel !== undefined && { channel }), data: payload };
}

describe('lpio server', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer({ settings });
  });
  after(() => t.close());

  test('a request without an id is answered at once with a new id in both spec forms', async () => {
    const { status, body } = await lpioPost(t.lpioUrl, {});
    assert.equal(status, 200);
    assert.equal(body.state, 1);
    assert.equal(typeof body.set?.id, 'string');
    assert.equal(typeof body.set?.address, 'string');
    assert.deepEqual(body.messages, [{ type: 'option', id: 'client', data: body.set?.id }]);
  });

  test('path publish reaches subscribers but not the sender; direct messages reach the address', async () => {
    const a = await openLpioSession(t.lpioUrl);
    const b = await openLpioSession(t.lpioUrl);
    await poll(t.lpioUrl, a.id, [data('s', '/meta/subscribe', '/room/*')]);
    const sub = await poll(t.lpioUrl, b.id, [data('s', '/meta/subscribe', '/room/*')]);
    assert.deepEqual(sub.body.messages, [{ type: 'ack', id: 's' }]);
    assert.equal('errors' in sub.body, false, 'no errors field when nothing was refused');

    const held = poll(t.lpioUrl, b.id);
    const sent = await poll(t.lpioUrl, a.id, [
      data('m1', '/room/1', { text: 'hi' }),
      data('m2', b.address, 'psst'),
    ]);
    assert.deepEqual(sent.body.messages, [
      { type: 'ack', id: 'm1' },
      { type: 'ack', id: 'm2' },
    ]);
    const got = (await held).body;
    assert.equal(got.state, 1);
    assert.deepEqual(
      got.messages?.map((m) => [m.type, m.id, m.channel, m.sender, m.data]),
      [
        ['data', '1', '/room/1', a.address, { text: 'hi' }],
        ['data', '2', b.address, a.address, 'psst'],
      ],
    );
    // The sender's own publish never comes back to it: a message sent to it afterwards is the
    // first thing its next poll gets (its queue is in order, and the echo would come before it).
    await t.server.send(a.id, 'after the publish');
    const own = await poll(t.lpioUrl, a.id);
    assert.deepEqual(
      own.body.messages?.map((m) => [m.type, m.id, m.data]),
      [['data', '1', 'after the publish']],
    );
  });

  test('unacked messages are redelivered with the same ids; acked ones are not', async () => {
    const b = await openLpioSession(t.lpioUrl);
    await poll(t.lpioUrl, b.id, [data('s', '/meta/subscribe', '/redeliver')]);
    await t.server.publish('/redeliver', 'one');
    const first = await poll(t.lpioUrl, b.id);
    assert.deepEqual(
      first.body.messages?.map((m) => [m.id, m.data]),
      [['1', 'one']],
    );
    // No ack: the next poll gets id 1 again, with the new message after it.
    await t.server.publish('/redeliver', 'two');
    const again = await poll(t.lpioUrl, b.id);
    assert.deepEqual(
      again.body.messages?.map((m) => [m.id, m.data]),
      [
        ['1', 'one'],
        ['2', 'two'],
      ],
    );
    // Acked, they are gone: the poll that carries the acks gets only what is new.
    const acked = poll(t.lpioUrl, b.id, [
      { type: 'ack', id: '1' },
      { type: 'ack', id: '2' },
    ]);
    await t.server.publish('/redeliver', 'three');
    assert.deepEqual(
      (await acked).body.messages?.map((m) => [m.id, m.data]),
      [['3', 'three']],
    );
    const snapshot = await t.server.inspect(b.id);
    assert.deepEqual(
      snapshot?.unacked.map((m) => m.id),
      [3],
    );
  });

  test('a response lost mid-flight (socket destroyed) is redelivered on the next poll', async () => {
    const b = await openLpioSession(t.lpioUrl);
    await poll(t.lpioUrl, b.id, [data('s', '/meta/subscribe', '/lost')]);
    const body = JSON.stringify({ messages: [] });
    const { reply } = await attached(
      t.server,
      () =>
        new Promise<void>((resolve, reject) => {
          const req = request(t.lpioUrl, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'lpio-client': b.id,
              'content-length': Buffer.byteLength(body),
            },
          });
          req.on('response', (res) => {
            res.destroy();
            resolve();
          });
          req.on('error', reject);
          req.end(body);
        }),
    );
    // The held poll is answered with the message, and the client destroys the answer unread.
    await t.server.publish('/lost', 'gone?');
    await reply;
    const next = await poll(t.lpioUrl, b.id);
    assert.deepEqual(
      next.body.messages?.map((m) => [m.id, m.data]),
      [['1', 'gone?']],
    );
  });

  test('a newer request supersedes the held one (state 0) and keeps its acks and messages', async () => {
    const b = await openLpioSession(t.lpioUrl);
    await poll(t.lpioUrl, b.id, [data('s', '/meta/subscribe', '/sup')]);
    const before = (await t.server.stats()).counters;
    const { reply: first } = await attached(t.server, () => poll(t.lpioUrl, b.id));
    const second = poll(t.lpioUrl, b.id, [data('x', undefined, 'to server')]);
    assert.deepEqual((await first).body, { state: 0, messages: [] });
    assert.deepEqual((await second).body.messages, [{ type: 'ack', id: 'x' }]);
    // State 0 is also what a hold timeout answers: the counters say which one this was.
    const after = (await t.server.stats()).counters;
    assert.equal(after.superseded - before.superseded, 1, 'superseded');
    assert.equal(after.hold_timeouts - before.hold_timeouts, 0, 'not timed out');
  });

  test('duplicates are processed once and acked every time', async () => {
    const a = await openLpioSession(t.lpioUrl);
    const seen: unknown[] = [];
    const listener = (message: { id: string; data: unknown }) => seen.push(message.data);
    t.server.on('message', listener);
    try {
      const one = await poll(t.lpioUrl, a.id, [data('dup', undefined, 'once')]);
      const two = await poll(t.lpioUrl, a.id, [data('dup', undefined, 'once')]);
      assert.deepEqual(one.body.messages, [{ type: 'ack', id: 'dup' }]);
      assert.deepEqual(two.body.messages, [{ type: 'ack', id: 'dup' }]);
      assert.deepEqual(seen, ['once']);
    } finally {
      t.server.off('message', listener);
    }
  });

  test('a request naming an ended session opens a new one and refuses its messages unprocessed', async () => {
    const a = await openLpioSession(t.lpioUrl);
    const seen: unknown[] = [];
    const listener = (message: { id: string; data: unknown }) => seen.push(message.data);
    t.server.on('message', listener);
    try {
      await poll(t.lpioUrl, a.id, [data('m1', undefined, 'in the old session')]);
      assert.equal(await t.server.closeSession(a.id, 'lost'), true);
      // A repeat of m1 (its answer lost) and a new m2: neither is processed by the new session,
      // which could not tell the repeat; the client sends again only what cannot be one.
      const reopened = await poll(t.lpioUrl, a.id, [
        data('m1', undefined, 'in the old session'),
        data('m2', undefined, 'new'),
      ]);
      assert.equal(reopened.body.state, 1);
      assert.equal(reopened.body.close?.code, 4104);
      assert.ok(reopened.body.set?.address && reopened.body.set.address !== a.address, 'a new session');
      assert.deepEqual(reopened.body.messages, [], 'nothing acked');
      assert.deepEqual(
        reopened.body.errors?.map((e) => [e.id, e.code, e.message]),
        ['m1', 'm2'].map((id) => [
          id,
          'SB_ERR_SESSION_CLOSED',
          'the session this request named has ended (lost): the message was not processed',
        ]),
      );
      assert.deepEqual(seen, ['in the old session']);
      const again = await poll(t.lpioUrl, a.id, [data('m2', undefined, 'new')]);
      assert.deepEqual(again.body.messages, [{ type: 'ack', id: 'm2' }]);
      assert.deepEqual(seen, ['in the old session', 'new'], 'sent again, the new session takes it');
    } finally {
      t.server.off('message', listener);
    }
  });

  test('bad input gets a clear answer, refuses only what is bad, and the server keeps serving', async () => {
    const a = await openLpioSession(t.lpioUrl);
    const b = await openLpioSession(t.lpioUrl);
    await poll(t.lpioUrl, b.id, [data('s', '/meta/subscribe', '/bad')]);
    const raw = (init: RequestInit) => fetch(t.lpioUrl, { method: 'POST', ...init });
    const json = { 'content-type': 'application/json' };

    let res = await raw({ headers: json, body: '{nope' });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'SB_ERR_BAD_JSON');
    res = await raw({ headers: { 'content-type': 'text/plain' }, body: '{}' });
    assert.equal(res.status, 415);
    assert.equal(
      ((await res.json()) as { error: { code: string } }).error.code,
      'SB_ERR_UNSUPPORTED_MEDIA_TYPE',
    );
    res = await fetch(t.lpioUrl);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    res = await raw({ headers: json, body: JSON.stringify({ pad: 'x'.repeat(5000) }) });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'SB_ERR_PAYLOAD_TOO_LARGE');
    for (const body of ['[1,2]', 'null', '"text"', '7']) {
      res = await raw({ headers: json, body });
      assert.equal(res.status, 400, body);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      assert.deepEqual(
        [error.code, error.message],
        ['SB_ERR_BAD_REQUEST', 'the request body must be a JSON object'],
        body,
      );
    }

    const cases: Array<[unknown, string, string]> = [
      [{ messages: 5 }, 'Bad messages.', 'SB_ERR_BAD_MESSAGE'],
      [{ messages: [{ type: 'data', data: 1 }] }, 'Bad message id.', 'SB_ERR_BAD_MESSAGE'],
      [{ messages: [{ type: 'data', id: 7, data: 1 }] }, 'Bad message id.', 'SB_ERR_BAD_MESSAGE'],
      [{ messages: [{ type: 'nope', id: 'x', data: 1 }] }, 'Bad message type.', 'SB_ERR_BAD_MESSAGE'],
      [{ messages: [{ type: 'data', id: 'x' }] }, 'Bad message data.', 'SB_ERR_BAD_MESSAGE'],
      [
        { messages: [1, 2, 3, 4].map((n) => data(`m${n}`, undefined, n)) },
        'Too many messages.',
        'SB_ERR_TOO_MANY_MESSAGES',
      ],
    ];
    for (const [body, error, code] of cases) {
      const { status, body: reply } = await lpioPost(t.lpioUrl, body, { 'lpio-client': a.id });
      assert.equal(status, 200, error);
      assert.deepEqual([reply.state, reply.error, reply.code], [2, error, code]);
    }
    // Core checks refuse the one message (named in `errors`, not acked, not processed); the valid
    // message beside it is processed and acked.
    const core: Array<[Record<string, unknown>, string]> = [
      [data('big', '/bad', 'x'.repeat(300)), 'SB_ERR_PAYLOAD_TOO_LARGE'],
      [data('p', '/bad//path', 1), 'SB_ERR_BAD_PATH'],
      [data('r', 'no-such-address', 1), 'SB_ERR_NO_SESSION'],
      [data('meta', '/meta/other', 1), 'SB_ERR_BAD_PATH'],
      [data('subs', '/meta/subscribe', ['/p/1', '/p/2', '/p/3']), 'SB_ERR_TOO_MANY_SUBSCRIPTIONS'],
    ];
    let acks: unknown[] = [];
    for (const [bad, code] of core) {
      const ok = `ok-${String(bad.id)}`;
      const { body: reply } = await poll(t.lpioUrl, a.id, [data(ok, '/bad', 'valid'), bad]);
      assert.equal(reply.state, 1, code);
      assert.deepEqual(reply.messages, [{ type: 'ack', id: ok }]);
      const errors = (reply as { errors?: Array<Record<string, unknown>> }).errors ?? [];
      assert.deepEqual(
        errors.map((e) => [e.id, e.code, typeof e.message]),
        [[bad.id, code, 'string']],
      );
      // b acks what it got in the same poll that takes the next one.
      const got = await poll(t.lpioUrl, b.id, acks);
      assert.deepEqual(
        got.body.messages?.filter((m) => m.type === 'data').map((m) => m.data),
        ['valid'],
        `the valid message beside the refused one (${code}) was delivered`,
      );
      acks = (got.body.messages ?? []).map((m) => ({ type: 'ack', id: m.id }));
    }
    // Nothing of the refused messages reached the subscriber: its next poll waits out the hold.
    const timeouts = (await t.server.stats()).counters.hold_timeouts;
    assert.deepEqual((await poll(t.lpioUrl, b.id, acks)).body, { state: 0, messages: [] });
    assert.equal(
      (await t.server.stats()).counters.hold_timeouts,
      timeouts + 1,
      'held until the hold timeout',
    );
    // And the server still serves.
    const ok = await poll(t.lpioUrl, a.id, [data('fine', '/bad', 'after')]);
    assert.deepEqual(ok.body.messages, [{ type: 'ack', id: 'fine' }]);
    const health = await fetch(`${t.origin}/healthz`);
    assert.deepEqual([health.status, await health.json()], [200, { status: 'ok' }]);
  });
});

describe('lpio server options', () => {
  test('strict mode answers an id-less request exactly as v0.2.2', async (ctx) => {
    const t = await startServer({ lpio: { strict: true } });
    ctx.after(() => t.close());
    const { body } = await lpioPost(t.lpioUrl, {});
    assert.deepEqual(Object.keys(body).sort(), ['messages', 'set', 'state']);
    assert.deepEqual([body.state, body.messages, Object.keys(body.set ?? {})], [0, [], ['id']]);
  });

  test('the seed form (body client) works, and a header/body mismatch is refused', async (ctx) => {
    const t = await startServer({ settings });
    ctx.after(() => t.close());
    const a = await openLpioSession(t.lpioUrl);
    const seed = await lpioPost(t.lpioUrl, { client: a.id, messages: [data('m', undefined, 1)] });
    assert.deepEqual(seed.body.messages, [{ type: 'ack', id: 'm' }]);
    const mismatch = await lpioPost(t.lpioUrl, { client: 'other' }, { 'lpio-client': a.id });
    assert.deepEqual([mismatch.body.state, mismatch.body.error], [2, 'Bad client id.']);
  });

  test('the auth hook sees the protocol, the method, the URL and the claimed session id from either place', async (ctx) => {
    const seen: unknown[] = [];
    const t = await startServer({
      settings,
      auth: (req) => {
        seen.push([req.protocol, req.method, req.url, req.sessionId]);
        return true;
      },
    });
    ctx.after(() => t.close());
    const a = await openLpioSession(t.lpioUrl);
    await lpioPost(t.lpioUrl, { messages: [] }, { 'lpio-client': a.id });
    await lpioPost(t.lpioUrl, { client: a.id, messages: [] });
    await lpioPost(t.lpioUrl, { client: a.id, messages: [] }, { 'lpio-client': '' });
    const path = new URL(t.lpioUrl).pathname;
    assert.deepEqual(seen, [
      ['lpio', 'POST', path, undefined],
      ['lpio', 'POST', path, a.id],
      ['lpio', 'POST', path, a.id],
      ['lpio', 'POST', path, a.id],
    ]);
  });

  test('a held poll the client abandons is let go at once, not at the hold timeout', async (ctx) => {
    const t = await startServer({ settings: { ...settings, holdTimeoutMs: 60_000 } });
    ctx.after(() => t.close());
    const a = await openLpioSession(t.lpioUrl);
    const abort = new AbortController();
    const { reply } = await attached(t.server, () => poll(t.lpioUrl, a.id, [], abort.signal));
    await liveConnections(t.server, 'lpio', 1);
    abort.abort();
    await assert.rejects(reply, { name: 'AbortError' });
    await liveConnections(t.server, 'lpio', 0);
    assert.equal((await t.server.stats()).counters.hold_timeouts, 0);
  });

  test('a rejected auth hook answers 403 and processes nothing; sessions belong to their user', async (ctx) => {
    const t = await startServer({
      settings,
      auth: (req) => {
        const user = req.headers['x-user'];
        return typeof user === 'string' && user !== 'mallory' ? { user } : false;
      },
    });
    ctx.after(() => t.close());
    const received: unknown[] = [];
    t.server.on('message', (m) => received.push(m.data));
    const denied = await lpioPost(
      t.lpioUrl,
      { messages: [data('x', undefined, 1)] },
      { 'x-user': 'mallory' },
    );
    assert.equal(denied.status, 403);
    assert.equal((denied.body.error as { code: string }).code, 'SB_ERR_FORBIDDEN');

    const { body } = await lpioPost(t.lpioUrl, {}, { 'x-user': 'alice' });
    const id = body.set?.id as string;
    const stolen = await lpioPost(
      t.lpioUrl,
      { messages: [data('y', undefined, 2)] },
      { 'x-user': 'bob', 'lpio-client': id },
    );
    assert.equal(stolen.status, 403);
    const own = await lpioPost(
      t.lpioUrl,
      { messages: [data('z', undefined, 3)] },
      { 'x-user': 'alice', 'lpio-client': id },
    );
    assert.deepEqual(own.body.messages, [{ type: 'ack', id: 'z' }]);
    assert.deepEqual(received, [3]);
  });

  test('a subscriber that never polls is closed as overflow and told so on its next poll', async (ctx) => {
    const t = await startServer({ settings: { ...settings, maxQueueMessages: 3 } });
    ctx.after(() => t.close());
    const b = await openLpioSession(t.lpioUrl);
    await poll(t.lpioUrl, b.id, [data('s', '/meta/subscribe', '/flood')]);
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await t.server.publish('/flood', i));
    assert.equal(results[3]?.overflowed, 1);
    const next = await poll(t.lpioUrl, b.id);
    assert.equal(next.body.close?.reason, 'overflow');
    assert.equal(next.body.close?.reconnect, true);
    assert.equal(typeof next.body.set?.address, 'string');
    const stats = await t.server.stats();
    assert.equal(stats.closeReasons.overflow, 1);
    assert.ok(stats.counters.dropped >= 3);
  });

  test('close() answers held requests with state 3', async () => {
    const t = await startServer({ settings });
    const a = await openLpioSession(t.lpioUrl);
    const { reply: held } = await attached(t.server, () => poll(t.lpioUrl, a.id));
    await t.close();
    assert.deepEqual((await held).body, { state: 3, messages: [] });
  });
});
