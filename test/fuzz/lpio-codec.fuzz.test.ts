/**
 * The LPIO codec under random and mutated input: `parseRequest` either returns a well-formed
 * request that says what the body said, or refuses it with one of the spec's strings and one of
 * our codes. Nothing else may come out of it (a TypeError here would be a 500 on the wire).
 * `formatBatch`/`formatState` always write JSON that reads back as what they were given.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { CLOSE_REASONS, closeReason, type CloseReasonName } from '../../src/core/close-reasons.js';
import { INT32_MAX, type Batch, type Outbound } from '../../src/core/types.js';
import {
  formatBatch,
  formatState,
  LPIO_ERRORS,
  LpioError,
  MAX_ID_LENGTH,
  parseRequest,
  toInbound,
  type LpioRequest,
  type ResponseExtras,
} from '../../src/protocols/lpio/codec.js';
import { budget, clientId, isKnownClientCode, lpioBody, mutated, oddValue } from './arbitraries.js';

const SPEC_STRINGS: readonly string[] = Object.values(LPIO_ERRORS);
const CLIENT_ID = /^[\x21-\x7e]{1,128}$/;

const header: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant(''),
  clientId,
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.array(clientId, { maxLength: 3 }),
);

const maxMessages = fc.oneof(fc.constant(1_000), fc.integer({ min: 0, max: 4 }));

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** What parseRequest must have read from `body`, checked against what it returned. */
function checkRequest(request: LpioRequest, body: unknown, head: string | string[] | undefined): void {
  assert.ok(isObject(body), 'only a JSON object is a request body');
  const fields = body;
  // The id: from the header, else the body, and only a printable one.
  if (request.clientId !== undefined) assert.match(request.clientId, CLIENT_ID);
  if (typeof head === 'string' && head !== '') assert.equal(request.clientId, head);
  else if (typeof fields.client === 'string' && fields.client !== '')
    assert.equal(request.clientId, fields.client);
  else assert.equal(request.clientId, undefined);

  const items = (fields.messages ?? []) as unknown[];
  assert.ok(Array.isArray(items), 'a request was accepted without a messages array');
  const data = items.filter((item) => isObject(item) && item.type === 'data') as Array<
    Record<string, unknown>
  >;
  assert.deepEqual(
    request.messages.map((m) => m.id),
    data.map((m) => m.id),
    'every data message is returned, in order, and nothing else',
  );
  for (const [i, message] of request.messages.entries()) {
    const source = data[i] as Record<string, unknown>;
    assert.equal(typeof message.id, 'string');
    assert.ok(message.id.length >= 1 && message.id.length <= MAX_ID_LENGTH);
    assert.notEqual(message.data, undefined);
    assert.equal(message.data, source.data);
    if (message.channel !== undefined) {
      assert.equal(typeof message.channel, 'string');
      assert.notEqual(message.channel, '');
    }
    for (const flag of [message.urgent, message.reliable])
      assert.ok(flag === undefined || typeof flag === 'boolean');
    const inbound = toInbound(message);
    assert.equal(inbound.id, message.id);
    assert.equal(inbound.data, message.data);
    assert.equal(inbound.urgent, message.urgent);
    assert.equal(inbound.reliable, message.reliable);
    if (message.channel === undefined) assert.deepEqual([inbound.path, inbound.to], [undefined, undefined]);
    else if (message.channel.startsWith('/'))
      assert.deepEqual([inbound.path, inbound.to], [message.channel, undefined]);
    else assert.deepEqual([inbound.path, inbound.to], [undefined, message.channel]);
  }

  const acked = items
    .filter((item) => isObject(item) && item.type === 'ack')
    .map((item) => (item as { id: string }).id)
    .filter((id) => /^[1-9][0-9]*$/.test(id) && Number(id) <= INT32_MAX)
    .map(Number);
  assert.deepEqual(request.acks, acked, 'acks are exactly the int32 server ids acked');

  // The order: `<instance>.<n>` exactly, or nothing.
  const seq = typeof fields.seq === 'string' ? /^([A-Za-z0-9_-]{1,64})\.(\d{1,15})$/.exec(fields.seq) : null;
  assert.deepEqual(request.order, seq ? { instance: seq[1], seq: Number(seq[2]) } : undefined);
  if (request.order) assert.ok(Number.isSafeInteger(request.order.seq) && request.order.seq >= 0);
}

function checkRefusal(error: unknown): void {
  assert.ok(
    error instanceof LpioError,
    `parseRequest threw ${String(error)} (${(error as Error)?.stack ?? ''})`,
  );
  assert.ok(SPEC_STRINGS.includes(error.message), `not a spec string: ${error.message}`);
  assert.ok(error.code.startsWith('SB_ERR_') && isKnownClientCode(error.code), `code ${error.code}`);
  if (error.detail !== undefined) assert.ok(error.detail.length <= 300);
}

/** Runs parseRequest on one input; returns whether it was accepted. */
function parseOne(body: unknown, head: string | string[] | undefined, max: number): boolean {
  let request: LpioRequest;
  try {
    request = parseRequest(body, head, max);
  } catch (error) {
    checkRefusal(error);
    return false;
  }
  checkRequest(request, body, head);
  return true;
}

test('parseRequest on arbitrary values: a well-formed request or an LpioError, nothing else', () => {
  const outcomes = { accepted: 0, refused: 0 };
  const body = fc.oneof(
    fc.jsonValue(),
    fc.anything({
      withNullPrototype: true,
      withBoxedValues: true,
      withSparseArray: true,
      withBigInt: true,
      withDate: true,
      withTypedArray: true,
      withMap: true,
      withSet: true,
    }),
    fc.record(
      { messages: fc.anything({ maxDepth: 2 }), client: oddValue, seq: oddValue },
      { requiredKeys: [] },
    ),
    fc.record({
      messages: fc.array(fc.anything({ maxDepth: 2, withNullPrototype: true }), { maxLength: 5 }),
    }),
  );
  fc.assert(
    fc.property(body, header, maxMessages, (value, head, max) => {
      outcomes[parseOne(value, head, max) ? 'accepted' : 'refused']++;
    }),
    budget(3_000, 2_500),
  );
  assert.ok(outcomes.accepted > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
});

test('parseRequest on mutated valid bodies: a well-formed request or an LpioError, nothing else', () => {
  const outcomes = { accepted: 0, refused: 0 };
  fc.assert(
    fc.property(mutated(lpioBody, 5), header, maxMessages, (value, head, max) => {
      outcomes[parseOne(value, head, max) ? 'accepted' : 'refused']++;
    }),
    budget(5_000, 3_000),
  );
  assert.ok(outcomes.accepted > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
});

test('parseRequest accepts every valid body it is given, with its own id in the header', () => {
  fc.assert(
    fc.property(lpioBody, fc.uuid(), (value, id) => {
      const body = { ...value, client: id };
      // Valid by construction, except the ids the generator makes too long on purpose.
      if (!body.messages.every((m) => m.id.length <= MAX_ID_LENGTH)) return;
      const request = parseRequest(body, id, 1_000);
      checkRequest(request, body, id);
    }),
    budget(2_000, 1_500),
  );
});

// ------------------------------------------------------------------ formatting

const outbound: fc.Arbitrary<Outbound> = fc
  .record(
    {
      channel: fc.string({ unit: 'binary', maxLength: 12 }),
      sender: fc.string({ unit: 'binary', maxLength: 12 }),
      urgent: fc.boolean(),
      data: fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }),
    },
    { requiredKeys: ['urgent', 'data'] },
  )
  .map(({ channel, sender, urgent, data }) => ({
    path: undefined,
    channel,
    sender,
    json: JSON.stringify(data),
    bytes: 0,
    cost: 0,
    urgent,
    reliable: true,
    createdAt: 0,
  }));

const batch: fc.Arbitrary<Batch> = fc.record({
  acks: fc.array(fc.string({ unit: 'binary', maxLength: 10 }), { maxLength: 5 }),
  deliveries: fc.array(
    fc.record({ id: fc.integer({ min: 1, max: INT32_MAX }), message: outbound, retry: fc.boolean() }),
    { maxLength: 5 },
  ),
});

const text = fc.string({ unit: 'binary', maxLength: 16 });
const extras: fc.Arbitrary<ResponseExtras> = fc.record(
  {
    set: fc.record({ id: text, address: text }, { requiredKeys: [] }),
    option: text,
    close: fc.constantFrom(...(Object.keys(CLOSE_REASONS) as CloseReasonName[])).map(closeReason),
    session: fc.record({ address: text }),
    errors: fc.array(fc.record({ id: text, code: text, message: text }), { maxLength: 3 }),
    limits: fc.record({ messages: fc.nat(), bytes: fc.nat(), messageBytes: fc.nat() }),
  },
  { requiredKeys: [] },
);

/** `value` with ordinary prototypes (fast-check may build null-prototype records), for deepEqual. */
const plain = (value: unknown): unknown =>
  value === undefined ? undefined : JSON.parse(JSON.stringify(value));

function checkExtras(parsed: Record<string, unknown>, given: ResponseExtras): void {
  assert.deepEqual(parsed.set, plain(given.set));
  assert.deepEqual(parsed.session, plain(given.session));
  assert.deepEqual(parsed.limits, plain(given.limits));
  assert.deepEqual(parsed.errors, given.errors && given.errors.length > 0 ? plain(given.errors) : undefined);
  assert.deepEqual(
    parsed.close,
    given.close && { code: given.close.code, reason: given.close.name, reconnect: given.close.reconnect },
  );
}

test('formatBatch writes JSON that reads back as the batch and its extras', () => {
  fc.assert(
    fc.property(batch, extras, (b, x) => {
      const parsed = JSON.parse(formatBatch(b, x)) as {
        state: number;
        messages: Array<Record<string, unknown>>;
      };
      assert.equal(parsed.state, 1);
      const expected = [
        ...b.acks.map((id) => ({ type: 'ack', id })),
        ...(x.option !== undefined ? [{ type: 'option', id: 'client', data: x.option }] : []),
        ...b.deliveries.map(({ id, message }) => ({
          type: 'data',
          id: String(id),
          ...(message.channel !== undefined && { channel: message.channel }),
          ...(message.sender !== undefined && { sender: message.sender }),
          ...(message.urgent && { urgent: true }),
          data: JSON.parse(message.json) as unknown,
        })),
      ];
      assert.deepEqual(parsed.messages, expected);
      checkExtras(parsed, x);
    }),
    budget(2_000, 1_000),
  );
});

test('formatState writes JSON that reads back as its state, error, code, detail and extras', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(0, 2, 3),
      extras,
      fc.record({ error: text, code: text, detail: text }, { requiredKeys: [] }),
      (state, x, e) => {
        const parsed = JSON.parse(formatState(state, { ...x, ...e })) as Record<string, unknown>;
        assert.equal(parsed.state, state);
        assert.deepEqual(parsed.messages, []);
        assert.equal(parsed.error, e.error);
        assert.equal(parsed.code, e.code);
        assert.equal(parsed.message, e.detail);
        checkExtras(parsed, x);
      },
    ),
    budget(2_000, 1_000),
  );
});
