/**
 * The WebSocket codec under random text, random JSON and mutated valid frames (deep nesting and
 * huge numbers included): `parseHello` and `parseFrame` either return what the frame said or
 * throw a WsFrameError with one of our codes (never SB_ERR_INTERNAL) and a short message.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { MAX_ERROR_MESSAGE } from '../../src/core/errors.js';
import { INT32_MAX } from '../../src/core/types.js';
import { formatError, parseFrame, parseHello, WsFrameError } from '../../src/protocols/websocket/codec.js';
import { budget, frames, isKnownClientCode, wsFrame, wsHello } from './arbitraries.js';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkError(error: unknown, text: string): WsFrameError {
  assert.ok(
    error instanceof WsFrameError,
    `threw ${String(error)} for ${JSON.stringify(text.slice(0, 200))}`,
  );
  assert.ok(isKnownClientCode(error.code), `code ${error.code}`);
  assert.ok(
    error.message.length <= MAX_ERROR_MESSAGE,
    `a ${error.message.length}-character message: ${error.message.slice(0, 400)}`,
  );
  if (error.id !== undefined) assert.equal(typeof error.id, 'string');
  for (const id of error.ids ?? []) assert.equal(typeof id, 'string');
  // What the adapter writes for it is one JSON frame, and short.
  const frame = JSON.parse(formatError(error)) as { type: string; code: string };
  assert.deepEqual([frame.type, frame.code], ['error', error.code]);
  return error;
}

const isServerId = (value: unknown) =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= INT32_MAX;

test('parseHello: a hello that says what the frame said, or a WsFrameError with a known code', () => {
  const outcomes = { accepted: 0, refused: 0 };
  fc.assert(
    fc.property(frames(wsHello), (text) => {
      let hello;
      try {
        hello = parseHello(text);
      } catch (error) {
        checkError(error, text);
        outcomes.refused++;
        return;
      }
      outcomes.accepted++;
      const frame = JSON.parse(text) as Record<string, unknown>;
      assert.ok(isObject(frame) && frame.type === 'hello');
      assert.equal(hello.session, frame.session);
      if (hello.session !== undefined) assert.match(hello.session, /^[\x21-\x7e]{1,128}$/);
      assert.equal(hello.last, frame.last);
      if (hello.last !== undefined) assert.ok(isServerId(hello.last));
    }),
    budget(4_000, 3_000),
  );
  assert.ok(outcomes.accepted > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
});

test('parseFrame: the frame’s messages and cumulative ack, or a WsFrameError with a known code', () => {
  const outcomes = { accepted: 0, refused: 0 };
  fc.assert(
    fc.property(
      frames(wsFrame),
      fc.oneof(fc.constant(1_000), fc.integer({ min: 0, max: 4 })),
      (text, max) => {
        let parsed;
        try {
          parsed = parseFrame(text, max);
        } catch (error) {
          const failure = checkError(error, text);
          if (failure.code === 'SB_ERR_TOO_MANY_MESSAGES') {
            const frame = JSON.parse(text) as unknown;
            assert.ok((Array.isArray(frame) ? frame.length : 1) > max);
          }
          outcomes.refused++;
          return;
        }
        outcomes.accepted++;
        const frame = JSON.parse(text) as unknown;
        const items = Array.isArray(frame) ? frame : [frame];
        assert.ok(items.length <= max, `${items.length} messages accepted, at most ${max} allowed`);
        assert.ok(items.every(isObject));
        const data = items.filter((item) => item.type === 'data');
        assert.deepEqual(
          parsed.messages.map((m) => m.id),
          data.map((m) => m.id),
        );
        for (const [i, message] of parsed.messages.entries()) {
          const source = data[i] as Record<string, unknown>;
          assert.ok(message.id.length >= 1 && message.id.length <= 128);
          assert.notEqual(message.data, undefined);
          assert.deepEqual(message.data, source.data);
          const channel = source.channel as string | undefined;
          if (channel === undefined) assert.deepEqual([message.path, message.to], [undefined, undefined]);
          else if (channel.startsWith('/'))
            assert.deepEqual([message.path, message.to], [channel, undefined]);
          else assert.deepEqual([message.path, message.to], [undefined, channel]);
          assert.equal(message.urgent, source.urgent);
          assert.equal(message.reliable, source.reliable);
        }
        const acks = items.filter((item) => item.type === 'ack');
        assert.ok(acks.every((a) => isServerId(a.upTo)));
        const upTo = acks.length === 0 ? undefined : Math.max(...acks.map((a) => a.upTo as number));
        assert.equal(parsed.ackUpTo, upTo);
        assert.ok(items.every((item) => ['data', 'ack', 'ping'].includes(item.type as string)));
      },
    ),
    budget(4_000, 3_500),
  );
  assert.ok(outcomes.accepted > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
});
