import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import * as ws from 'ws';
import {
  WsFrameError,
  dataFrame,
  formatAcks,
  formatError,
  formatSeq,
  formatWelcome,
  parseFrame,
  parseHello,
  payloadOf,
  textFrame,
  PING_FRAME,
} from './codec.js';
import { INT32_MAX, type Outbound } from '../../core/types.js';
import { closeReason } from '../../core/close-reasons.js';

function frameError(code: string, pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof WsFrameError, String(error));
    assert.equal(error.code, code);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

test('hello: a new session, or a session of 1–128 printable ASCII characters and its last id', () => {
  assert.deepEqual(parseHello('{"type":"hello"}'), { session: undefined, last: undefined });
  assert.deepEqual(parseHello(`{"type":"hello","session":"${'s'.repeat(128)}","last":${INT32_MAX}}`), {
    session: 's'.repeat(128),
    last: INT32_MAX,
  });
  assert.deepEqual(parseHello('{"type":"hello","session":"!~","last":0}'), { session: '!~', last: 0 });
  for (const session of ['""', `"${'s'.repeat(129)}"`, '"a b"', '"é"', '"\\u007f"', '7', 'null']) {
    assert.throws(
      () => parseHello(`{"type":"hello","session":${session}}`),
      frameError('SB_ERR_BAD_REQUEST', /session must be 1–128 printable ASCII/),
      session,
    );
  }
  for (const last of ['-1', String(INT32_MAX + 1), '1.5', '"3"', 'null']) {
    assert.throws(
      () => parseHello(`{"type":"hello","last":${last}}`),
      frameError('SB_ERR_BAD_MESSAGE', /last must be an integer from 0 to 2147483647/),
      last,
    );
  }
  for (const frame of ['{"type":"data"}', '[{"type":"hello"}]', '"hello"', 'null', '{}']) {
    assert.throws(() => parseHello(frame), frameError('SB_ERR_BAD_REQUEST', /first frame must be/), frame);
  }
  assert.throws(() => parseHello('{'), frameError('SB_ERR_BAD_JSON', /^the frame is not valid JSON/));
  assert.throws(() => parseHello('[1e999]'), frameError('SB_ERR_BAD_JSON', /out of range/));
});

test('frames: one message or an array; pings skipped; the highest ack kept', () => {
  assert.deepEqual(parseFrame('{"type":"ping"}', 10), { messages: [], ackUpTo: undefined });
  assert.deepEqual(parseFrame('[{"type":"ack","upTo":5},{"type":"ack","upTo":3},{"type":"ping"}]', 10), {
    messages: [],
    ackUpTo: 5,
  });
  assert.deepEqual(parseFrame('[{"type":"ack","upTo":3},{"type":"ack","upTo":9}]', 10).ackUpTo, 9);
  assert.deepEqual(parseFrame(`{"type":"ack","upTo":${INT32_MAX}}`, 10).ackUpTo, INT32_MAX);
  assert.deepEqual(parseFrame('{"type":"ack","upTo":0}', 10).ackUpTo, 0);
  for (const upTo of ['-1', String(INT32_MAX + 1), '2.5', '"1"']) {
    assert.throws(
      () => parseFrame(`{"type":"ack","upTo":${upTo}}`, 10),
      frameError('SB_ERR_BAD_MESSAGE', /ack upTo must be an integer/),
      upTo,
    );
  }
  assert.deepEqual(parseFrame('[]', 10), { messages: [], ackUpTo: undefined });
  assert.throws(() => parseFrame('[1]', 10), frameError('SB_ERR_BAD_MESSAGE', /must be a JSON object/));
  assert.throws(() => parseFrame('[[]]', 10), frameError('SB_ERR_BAD_MESSAGE'));
  assert.throws(
    () => parseFrame('{"type":"nope"}', 10),
    frameError('SB_ERR_BAD_MESSAGE', /unknown message type "nope"/),
  );
});

test('data messages: channel "/…" is a path, anything else an address; flags are booleans', () => {
  const { messages } = parseFrame(
    JSON.stringify([
      { type: 'data', id: 'a', channel: '/room', data: { x: 1 } },
      { type: 'data', id: 'b', channel: 'addr-9', data: null, urgent: true, reliable: false },
      { type: 'data', id: 'c', data: 0, urgent: false },
      { type: 'data', id: 'd'.repeat(128), data: '' },
    ]),
    10,
  );
  assert.deepEqual(messages, [
    { id: 'a', data: { x: 1 }, path: '/room' },
    { id: 'b', data: null, urgent: true, reliable: false, to: 'addr-9' },
    { id: 'c', data: 0, urgent: false },
    { id: 'd'.repeat(128), data: '' },
  ]);
  const bad: Array<[unknown, RegExp, string | undefined]> = [
    [{ type: 'data', data: 1 }, /id must be a string of 1–128/, undefined],
    [{ type: 'data', id: '', data: 1 }, /id must be/, undefined],
    [{ type: 'data', id: 'i'.repeat(129), data: 1 }, /id must be/, undefined],
    [{ type: 'data', id: 7, data: 1 }, /id must be/, undefined],
    [{ type: 'data', id: 'm' }, /message "m" has no data/, 'm'],
    [{ type: 'data', id: 'm', data: 1, channel: '' }, /channel must be a non-empty string/, 'm'],
    [{ type: 'data', id: 'm', data: 1, channel: 5 }, /channel must be/, 'm'],
    [{ type: 'data', id: 'm', data: 1, urgent: 'yes' }, /urgent and reliable must be booleans/, 'm'],
    [{ type: 'data', id: 'm', data: 1, reliable: 0 }, /urgent and reliable/, 'm'],
  ];
  for (const [item, pattern, id] of bad) {
    assert.throws(
      () => parseFrame(JSON.stringify(item), 10),
      (error: unknown) =>
        frameError('SB_ERR_BAD_MESSAGE', pattern)(error) && (error as WsFrameError).id === id,
      JSON.stringify(item),
    );
  }
});

test('exactly maxMessages per frame; past it the frame is refused naming its valid ids, at most maxMessages', () => {
  const data = (id: unknown) => ({ type: 'data', id, data: 1 });
  assert.equal(parseFrame(JSON.stringify([data('1'), data('2'), data('3')]), 3).messages.length, 3);
  assert.throws(
    () =>
      parseFrame(
        JSON.stringify([
          data('1'),
          { type: 'ping' },
          data(''),
          data('x'.repeat(129)),
          data(5),
          data('2'),
          data('3'),
          data('4'),
        ]),
        3,
      ),
    (error: unknown) => {
      assert.ok(error instanceof WsFrameError);
      assert.equal(error.code, 'SB_ERR_TOO_MANY_MESSAGES');
      assert.match(error.message, /at most 3 messages, got 8/);
      assert.deepEqual(error.ids, ['1', '2', '3']);
      assert.equal(error.id, undefined);
      return true;
    },
  );
  assert.throws(
    () => parseFrame(JSON.stringify([1, 2]), 1),
    (error: unknown) =>
      error instanceof WsFrameError && error.code === 'SB_ERR_TOO_MANY_MESSAGES' && error.ids?.length === 0,
  );
});

test('server frames: welcome, acks, seq, ping, errors', () => {
  const limits = { messages: 1, bytes: 2, messageBytes: 3 };
  const timers = { keepAliveMs: 25_000, idleTimeoutMs: 60_000 };
  assert.deepEqual(JSON.parse(formatWelcome({ id: 's', address: 'a' }, false, timers, undefined, limits)), {
    type: 'welcome',
    session: 's',
    address: 'a',
    resumed: false,
    keepAlive: 25_000,
    timeout: 60_000,
    limits,
  });
  const stale = closeReason('stale');
  const resumed = JSON.parse(formatWelcome({ id: 's', address: 'a' }, true, timers, stale, limits)) as {
    resumed: boolean;
    close: unknown;
  };
  assert.equal(resumed.resumed, true);
  assert.deepEqual(resumed.close, { code: stale.code, reason: 'stale', reconnect: stale.reconnect });
  assert.deepEqual(JSON.parse(formatAcks(['a', 'b'])), { type: 'ack', ids: ['a', 'b'] });
  assert.deepEqual(JSON.parse(formatSeq(42)), { type: 'seq', next: 42 });
  assert.deepEqual(JSON.parse(PING_FRAME), { type: 'ping' });
  assert.deepEqual(JSON.parse(formatError({ code: 'SB_ERR_X', message: 'm' })), {
    type: 'error',
    code: 'SB_ERR_X',
    message: 'm',
  });
  const long = JSON.parse(
    formatError({ code: 'C', message: 'x'.repeat(1000), id: 'i', ids: ['i', 'j'] }),
  ) as {
    message: string;
    id: string;
    ids: string[];
  };
  assert.equal(long.message.length, 300);
  assert.ok(long.message.endsWith('…'));
  assert.equal(long.id, 'i');
  assert.deepEqual(long.ids, ['i', 'j']);
  assert.equal('ids' in JSON.parse(formatError({ code: 'C', message: 'm', ids: [] })), false);
});

/** ws's frame parser: exported by the package, though its type declarations leave it out. */
interface FrameReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  write(chunk: Buffer): void;
}
const { Receiver } = ws as unknown as { Receiver: new (options: { isServer: boolean }) => FrameReceiver };

/** Decodes server frames with ws's own parser (a client receives them unmasked). */
function receive(frame: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: false });
    receiver.on('message', (data: Buffer, isBinary: boolean) => {
      assert.equal(isBinary, false);
      resolve(data.toString('utf8'));
    });
    receiver.on('error', reject);
    receiver.write(frame);
  });
}

test('textFrame builds frames ws parses, at each length encoding boundary', async () => {
  for (const length of [0, 125, 126, 65_535, 65_536, 70_000]) {
    const text = 'x'.repeat(length);
    const frame = textFrame(text);
    const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
    assert.equal(frame.length, header + length, `length ${length}`);
    assert.equal(await receive(frame), text);
    assert.equal(payloadOf(frame).toString('utf8'), text);
  }
  const multibyte = 'é'.repeat(63); // 126 bytes, 63 characters: the header counts bytes
  assert.equal(textFrame(multibyte).length, 4 + 126);
  assert.equal(await receive(textFrame(multibyte)), multibyte);
});

test('dataFrame: one encoded frame per message, shared by every recipient', async () => {
  const message: Outbound = {
    path: '/room',
    channel: '/room',
    sender: 'addr-1',
    json: '{"a":1}',
    bytes: 7,
    cost: 300,
    urgent: true,
    reliable: true,
    createdAt: 0,
  };
  const frame = dataFrame(message);
  assert.equal(dataFrame(message), frame, 'the same Buffer');
  assert.deepEqual(JSON.parse(await receive(frame)), {
    type: 'data',
    channel: '/room',
    sender: 'addr-1',
    urgent: true,
    data: { a: 1 },
  });
  const other = dataFrame({ ...message, urgent: false, sender: undefined });
  assert.notEqual(other, frame);
  assert.deepEqual(JSON.parse(payloadOf(other).toString()), {
    type: 'data',
    channel: '/room',
    data: { a: 1 },
  });
});
