import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { MAX_JSON_DEPTH, jsonProblem, parseJson, utf8Bytes } from './json.js';
import { SwitchboardError } from './errors.js';

const nested = (depth: number, open = '[', close = ']'): string => open.repeat(depth) + close.repeat(depth);

function refused(text: string, pattern: RegExp, what?: string): void {
  assert.throws(
    () => (what === undefined ? parseJson(text) : parseJson(text, what)),
    (error: unknown) => {
      assert.ok(error instanceof SwitchboardError, String(error));
      assert.equal(error.code, 'SB_ERR_BAD_JSON');
      assert.match(error.message, pattern);
      return true;
    },
    text.slice(0, 40),
  );
}

test('nesting: exactly the maximum depth parses, one more level is refused', () => {
  assert.equal(MAX_JSON_DEPTH, 128);
  assert.equal(jsonProblem(nested(128)), undefined);
  assert.match(jsonProblem(nested(129)) ?? '', /nested deeper than 128 levels/);
  assert.equal(jsonProblem(nested(64, '{"a":', '}')), undefined);
  assert.match(jsonProblem('{"a":'.repeat(129) + '1' + '}'.repeat(129)) ?? '', /deeper/);
  // Closing brackets bring the depth back down: many shallow siblings are fine.
  assert.equal(jsonProblem(`[${Array.from({ length: 300 }, () => '[1]').join(',')}]`), undefined);
  assert.equal(jsonProblem(nested(3), 2) !== undefined, true, 'the maximum is a parameter');
  assert.equal(jsonProblem(nested(2), 2), undefined);
  refused(nested(129), /request body is refused: it is nested deeper/);
  assert.deepEqual(parseJson(nested(2)), [[]]);
});

test('brackets and quotes inside strings are not counted', () => {
  assert.equal(jsonProblem(JSON.stringify('['.repeat(500))), undefined);
  assert.equal(
    jsonProblem(JSON.stringify(`a"b${'['.repeat(500)}`)),
    undefined,
    'an escaped quote does not end the string',
  );
  assert.equal(jsonProblem(JSON.stringify(`a\\${'['.repeat(200)}`)), undefined);
  // An escaped backslash before the quote: the string ends there, the brackets after count.
  assert.match(jsonProblem(`["a\\\\",${nested(129)}]`) ?? '', /deeper/);
  // A string with numbers in it is not read as numbers.
  assert.equal(jsonProblem('"1e999"'), undefined);
  assert.deepEqual(parseJson('{"n":"1e999"}'), { n: '1e999' });
  // Unterminated: left to JSON.parse, which refuses it.
  assert.equal(jsonProblem('["abc'), undefined);
  refused('["abc', /not valid JSON/);
});

test('numbers a double cannot hold are refused; the ones it can are kept', () => {
  for (const ok of [
    '1e308',
    '-1.7976931348623157e308',
    '5e-324',
    '0',
    '-0',
    '12.5E+3',
    '0e999',
    '0.000e-999',
  ]) {
    assert.equal(jsonProblem(ok), undefined, ok);
    assert.equal(jsonProblem(`[${ok}]`), undefined, ok);
  }
  for (const big of ['1e309', '-1e309', '1E400', '[1e999999999]', '{"a":9e400}']) {
    assert.match(jsonProblem(big) ?? '', /out of range/, big);
  }
  for (const small of ['1e-400', '-2.5e-999', '[0.0001e-330]']) {
    assert.match(jsonProblem(small) ?? '', /too small \(it would be 0\)/, small);
  }
  // Long mantissas without an exponent: converted and checked.
  assert.equal(jsonProblem('1' + '0'.repeat(300)), undefined);
  assert.match(jsonProblem('1' + '0'.repeat(309)) ?? '', /out of range/);
  // A long mantissa with a small exponent is checked too.
  assert.match(jsonProblem('1' + '0'.repeat(45) + 'e300') ?? '', /out of range/);
  assert.equal(jsonProblem('1' + '0'.repeat(45) + 'e200'), undefined);
  // The reason quotes at most 24 characters of the number.
  const long = '9'.repeat(400);
  const reason = jsonProblem(long) ?? '';
  assert.ok(reason.includes('9'.repeat(24)) && !reason.includes('9'.repeat(25)), reason);
  const tiny = jsonProblem(`0.${'0'.repeat(400)}1e-10`) ?? '';
  assert.match(tiny, /too small/);
  assert.ok(tiny.includes('0'.repeat(22)) && !tiny.includes('0'.repeat(23)), tiny);
  refused('{"n":1e400}', /^the message is refused: the number 1e400 is out of range$/, 'the message');
});

test('parseJson parses valid JSON and refuses invalid JSON with a short reason', () => {
  assert.deepEqual(parseJson('{"a":[1,"x",null,true]}'), { a: [1, 'x', null, true] });
  assert.equal(parseJson('"é"'), 'é');
  refused('{', /^the request body is not valid JSON: /);
  refused('', /not valid JSON/);
  refused('-', /not valid JSON/);
  refused(`{"a":${'x'.repeat(10_000)}}`, /not valid JSON/);
  assert.throws(
    () => parseJson(`{"a":${'x'.repeat(10_000)}}`),
    (error: unknown) => error instanceof Error && error.message.length < 300,
  );
});

test('utf8Bytes counts UTF-8 bytes, not UTF-16 units', () => {
  assert.equal(utf8Bytes(''), 0);
  assert.equal(utf8Bytes('abc'), 3);
  assert.equal(utf8Bytes('é'), 2);
  assert.equal(utf8Bytes('€'), 3);
  assert.equal(utf8Bytes('😀'), 4);
  assert.equal('😀'.length, 2);
});
