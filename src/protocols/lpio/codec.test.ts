import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { LPIO_ERRORS, LpioError, STATE, formatBatch, formatState, parseRequest, toInbound } from './codec.js';
import { closeReason } from '../../core/close-reasons.js';
import { INT32_MAX, type Outbound } from '../../core/types.js';

function lpioError(spec: string, code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof LpioError, String(error));
    assert.equal(error.message, spec);
    assert.equal(error.code, code);
    return true;
  };
}

const parse = (body: unknown, header?: string | string[], max = 10) => parseRequest(body, header, max);

test('the body must be an object; messages an array of at most maxMessages', () => {
  for (const body of [null, [], 'x', 3]) {
    assert.throws(
      () => parse(body),
      lpioError(LPIO_ERRORS.messages, 'SB_ERR_BAD_REQUEST'),
      JSON.stringify(body),
    );
  }
  assert.throws(() => parse(null), { detail: 'the request body must be a JSON object' });
  assert.deepEqual(parse({}), { clientId: undefined, messages: [], acks: [], order: undefined });
  assert.throws(() => parse({ messages: {} }), lpioError(LPIO_ERRORS.messages, 'SB_ERR_BAD_MESSAGE'));
  const three = [1, 2, 3].map((i) => ({ id: String(i), type: 'data', data: i }));
  assert.equal(parse({ messages: three }, undefined, 3).messages.length, 3);
  assert.throws(
    () => parse({ messages: [...three, three[0]] }, undefined, 3),
    lpioError(LPIO_ERRORS.tooMany, 'SB_ERR_TOO_MANY_MESSAGES'),
  );
});

test('message ids are 1–128 character strings', () => {
  assert.equal(parse({ messages: [{ id: 'x'.repeat(128), type: 'data', data: 1 }] }).messages.length, 1);
  for (const id of ['', 'x'.repeat(129), 5, undefined]) {
    assert.throws(
      () => parse({ messages: [{ id, type: 'data', data: 1 }] }),
      lpioError(LPIO_ERRORS.id, 'SB_ERR_BAD_MESSAGE'),
      String(id),
    );
  }
  assert.throws(
    () => parse({ messages: ['not an object'] }),
    lpioError(LPIO_ERRORS.id, 'SB_ERR_BAD_MESSAGE'),
  );
  assert.throws(() => parse({ messages: [['id']] }), lpioError(LPIO_ERRORS.id, 'SB_ERR_BAD_MESSAGE'));
});

test('acks name server ids: decimal int32 from 1; anything else acks nothing', () => {
  const acks = [
    '1',
    '42',
    String(INT32_MAX),
    String(INT32_MAX + 1),
    '0',
    '01',
    '-1',
    'client',
    '1e3',
    '12345678901',
  ];
  const parsed = parse({ messages: acks.map((id) => ({ id, type: 'ack' })) });
  assert.deepEqual(parsed.acks, [1, 42, INT32_MAX]);
  assert.deepEqual(parsed.messages, []);
});

test('data, option and other types; channel or recipient; flags', () => {
  const parsed = parse({
    messages: [
      { id: 'a', type: 'data', data: { x: 1 }, channel: '/room' },
      { id: 'b', type: 'data', data: null, recipient: 'addr-2', urgent: true, reliable: false },
      { id: 'c', type: 'data', data: 0, channel: '' },
      { id: 'd', type: 'option', data: 'anything' },
      { id: 'e', type: 'data', data: 'x', channel: '/c', recipient: 'ignored' },
    ],
  });
  assert.deepEqual(parsed.messages, [
    { id: 'a', data: { x: 1 }, channel: '/room', urgent: undefined, reliable: undefined },
    { id: 'b', data: null, channel: 'addr-2', urgent: true, reliable: false },
    { id: 'c', data: 0, channel: undefined, urgent: undefined, reliable: undefined },
    { id: 'e', data: 'x', channel: '/c', urgent: undefined, reliable: undefined },
  ]);
  const bad: Array<[unknown, string]> = [
    [{ id: 'm', type: 'data' }, LPIO_ERRORS.data],
    [{ id: 'm', type: 'event', data: 1 }, LPIO_ERRORS.type],
    [{ id: 'm', data: 1 }, LPIO_ERRORS.type],
    [{ id: 'm', type: 'data', data: 1, channel: 5 }, LPIO_ERRORS.channel],
    [{ id: 'm', type: 'data', data: 1, recipient: {} }, LPIO_ERRORS.channel],
    [{ id: 'm', type: 'data', data: 1, urgent: 'yes' }, LPIO_ERRORS.options],
    [{ id: 'm', type: 'option', reliable: 1 }, LPIO_ERRORS.options],
  ];
  for (const [message, spec] of bad) {
    assert.throws(
      () => parse({ messages: [message] }),
      lpioError(spec, 'SB_ERR_BAD_MESSAGE'),
      JSON.stringify(message),
    );
  }
});

test('the client id: header or body, the same when both, printable ASCII of 1–128', () => {
  const id = 'A'.repeat(128);
  assert.equal(parse({}, id).clientId, id);
  assert.equal(parse({ client: id }).clientId, id);
  assert.equal(parse({ client: id }, id).clientId, id);
  assert.equal(parse({ client: '' }, '').clientId, undefined, 'empty means none');
  assert.equal(parse({ client: '' }, id).clientId, id, 'an empty body field is no second id');
  assert.equal(parse({ client: null }).clientId, undefined);
  assert.equal(parse({ client: '!~' }).clientId, '!~');
  const bad: Array<[unknown, string | string[] | undefined]> = [
    [{}, ['a', 'b']],
    [{ client: 5 }, undefined],
    [{ client: 'one' }, 'two'],
    [{}, 'A'.repeat(129)],
    [{ client: 'a b' }, undefined],
    [{ client: 'é' }, undefined],
  ];
  for (const [body, header] of bad) {
    assert.throws(
      () => parse(body, header),
      lpioError(LPIO_ERRORS.client, 'SB_ERR_BAD_REQUEST'),
      JSON.stringify([body, header]),
    );
  }
});

test('seq: "<instance>.<n>" is the request order; anything else is ignored', () => {
  assert.deepEqual(parse({ seq: 'abc_-9.0' }).order, { instance: 'abc_-9', seq: 0 });
  assert.deepEqual(parse({ seq: `${'i'.repeat(64)}.${'9'.repeat(15)}` }).order, {
    instance: 'i'.repeat(64),
    seq: 999_999_999_999_999,
  });
  for (const seq of [
    5,
    'abc',
    'abc.',
    '.1',
    `${'i'.repeat(65)}.1`,
    `i.${'1'.repeat(16)}`,
    'a.b.1',
    'a.-1',
    'a b.1',
    'a.1 ',
  ]) {
    assert.equal(parse({ seq }).order, undefined, String(seq));
  }
});

test('toInbound: a "/" channel is a path, another an address, flags only when given', () => {
  assert.deepEqual(toInbound({ id: 'a', data: 1, channel: '/p', urgent: undefined, reliable: undefined }), {
    id: 'a',
    data: 1,
    path: '/p',
  });
  assert.deepEqual(toInbound({ id: 'a', data: 1, channel: 'addr', urgent: false, reliable: true }), {
    id: 'a',
    data: 1,
    urgent: false,
    reliable: true,
    to: 'addr',
  });
  assert.deepEqual(
    toInbound({ id: 'a', data: 1, channel: undefined, urgent: undefined, reliable: undefined }),
    {
      id: 'a',
      data: 1,
    },
  );
});

const message = (json: string, extra: Partial<Outbound> = {}): Outbound => ({
  path: '/room',
  channel: '/room',
  sender: 'addr-1',
  json,
  bytes: json.length,
  cost: 300,
  urgent: false,
  reliable: true,
  createdAt: 0,
  ...extra,
});

test('formatBatch: acks, the option message, then data; extras after', () => {
  const text = formatBatch(
    {
      acks: ['c1', 'c"2'],
      deliveries: [
        { id: 7, message: message('{"a":1}'), retry: false },
        { id: 8, message: message('2', { urgent: true, sender: undefined, channel: 'addr-9' }), retry: true },
      ],
    },
    {
      option: 'new-id',
      set: { id: 'new-id', address: 'addr-x' },
      session: { address: 'addr-x' },
      limits: { messages: 1, bytes: 2, messageBytes: 3 },
      errors: [{ id: 'c3', code: 'SB_ERR_FORBIDDEN', message: 'no' }],
      close: closeReason('stale'),
    },
  );
  const stale = closeReason('stale');
  assert.deepEqual(JSON.parse(text), {
    state: STATE.NEW_MESSAGES,
    messages: [
      { type: 'ack', id: 'c1' },
      { type: 'ack', id: 'c"2' },
      { type: 'option', id: 'client', data: 'new-id' },
      { type: 'data', id: '7', channel: '/room', sender: 'addr-1', data: { a: 1 } },
      { type: 'data', id: '8', channel: 'addr-9', urgent: true, data: 2 },
    ],
    set: { id: 'new-id', address: 'addr-x' },
    session: { address: 'addr-x' },
    limits: { messages: 1, bytes: 2, messageBytes: 3 },
    errors: [{ id: 'c3', code: 'SB_ERR_FORBIDDEN', message: 'no' }],
    close: { code: stale.code, reason: 'stale', reconnect: stale.reconnect },
  });
  assert.deepEqual(JSON.parse(formatBatch({ acks: [], deliveries: [] }, { errors: [] })), {
    state: 1,
    messages: [],
  });
});

test('formatState: the state, the spec string, our code and detail, and extras', () => {
  assert.deepEqual(JSON.parse(formatState(STATE.RECONNECT)), { state: 0, messages: [] });
  assert.deepEqual(
    JSON.parse(
      formatState(STATE.ERROR, { error: LPIO_ERRORS.client, code: 'SB_ERR_WEAK_CLIENT_ID', detail: 'd"' }),
    ),
    { state: 2, error: 'Bad client id.', code: 'SB_ERR_WEAK_CLIENT_ID', message: 'd"', messages: [] },
  );
  const gone = closeReason('terminated');
  assert.deepEqual(JSON.parse(formatState(STATE.SERVER_DESTROYED, { close: gone })), {
    state: 3,
    messages: [],
    close: { code: gone.code, reason: 'terminated', reconnect: gone.reconnect },
  });
});
