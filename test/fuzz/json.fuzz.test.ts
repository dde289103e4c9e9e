/**
 * `parseJson` against `JSON.parse` and an oracle of its own: it returns exactly what JSON.parse
 * returns, or throws SB_ERR_BAD_JSON, and it throws exactly when JSON.parse throws, the value is
 * nested deeper than MAX_JSON_DEPTH, a number in it is not finite, or a number literal that is not
 * zero would become 0. The oracle measures depth and finiteness on the parsed value, and finds
 * underflows with regular expressions, not by walking the text as jsonProblem does.
 */
import { strict as assert, AssertionError } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { isSwitchboardError } from '../../src/core/errors.js';
import { jsonProblem, MAX_JSON_DEPTH, parseJson } from '../../src/core/json.js';
import { budget, damaged, nesting, numberText, trickyStringText, underflows } from './arbitraries.js';

// ------------------------------------------------------------------ the oracle

/** Nesting of arrays and objects: 0 for a scalar, 1 for `[]`. */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let deepest = 0;
  for (const child of Object.values(value)) deepest = Math.max(deepest, depthOf(child));
  return deepest + 1;
}

function allFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || value === null) return true;
  return Object.values(value).every(allFinite);
}

type Verdict = { readonly valid: false } | { readonly valid: true; readonly value: unknown };

function jsonParse(text: string): Verdict {
  try {
    return { valid: true, value: JSON.parse(text) as unknown };
  } catch {
    return { valid: false };
  }
}

/** What parseJson must do with `text`: refuse it, or return JSON.parse's value. */
function expected(text: string, maxDepth = MAX_JSON_DEPTH): Verdict {
  const parsed = jsonParse(text);
  if (!parsed.valid) return parsed;
  return depthOf(parsed.value) > maxDepth || !allFinite(parsed.value) || underflows(text)
    ? { valid: false }
    : parsed;
}

/** parseJson's answer: the value, or its refusal (anything else thrown fails the property). */
function actual(text: string): Verdict {
  try {
    return { valid: true, value: parseJson(text) };
  } catch (error) {
    if (error instanceof AssertionError) throw error;
    assert.ok(isSwitchboardError(error), `parseJson threw ${String(error)}`);
    assert.equal(error.code, 'SB_ERR_BAD_JSON');
    assert.equal(error.status, 400);
    return { valid: false };
  }
}

// ------------------------------------------------------------------ documents

/** A JSON document built from texts, so numbers and strings can be written as no serializer would. */
type Doc =
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'array'; readonly items: readonly Doc[]; readonly pad: string }
  | {
      readonly kind: 'object';
      readonly members: ReadonlyArray<readonly [string, Doc]>;
      readonly pad: string;
    };

const pad = fc.constantFrom('', '', ' ', '\n', '\t', '\r\n  ');
const key = fc.oneof(
  fc.constantFrom('a', 'b', '__proto__', 'constructor'),
  fc.string({ maxLength: 4 }),
  trickyStringText.map((t) => JSON.parse(t) as string),
);
const scalar = fc.oneof(
  numberText,
  numberText,
  trickyStringText,
  fc.constantFrom('true', 'false', 'null', '""', '0'),
  fc.jsonValue({ maxDepth: 0, stringUnit: 'binary' }).map((v) => JSON.stringify(v)),
);

const { doc } = fc.letrec<{ doc: Doc; array: Doc; object: Doc }>((tie) => ({
  doc: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar.map((text): Doc => ({ kind: 'raw', text })),
    tie('array'),
    tie('object'),
  ),
  array: fc
    .tuple(fc.array(tie('doc'), { maxLength: 4 }), pad)
    .map(([items, p]): Doc => ({ kind: 'array', items, pad: p })),
  object: fc
    .tuple(fc.array(fc.tuple(key, tie('doc')), { maxLength: 4 }), pad)
    .map(([members, p]): Doc => ({ kind: 'object', members, pad: p })),
}));

function write(d: Doc): string {
  switch (d.kind) {
    case 'raw':
      return d.text;
    case 'array':
      return `[${d.pad}${d.items.map(write).join(`${d.pad},`)}${d.pad}]`;
    case 'object':
      return `{${d.pad}${d.members.map(([k, v]) => `${JSON.stringify(k)}${d.pad}:${write(v)}`).join(',')}}`;
  }
}

/** Whether any object of `d` names a key twice (JSON.parse then keeps the last). */
function duplicateKeys(d: Doc): boolean {
  switch (d.kind) {
    case 'raw':
      return false;
    case 'array':
      return d.items.some(duplicateKeys);
    case 'object':
      return (
        new Set(d.members.map(([k]) => k)).size < d.members.length ||
        d.members.some(([, v]) => duplicateKeys(v))
      );
  }
}

/** A document, whole or nested inside `depth` levels of arrays or objects. */
const document = fc
  .tuple(doc, fc.option(nesting, { freq: 2 }))
  .map(([d, n]) => ({ text: n ? `${n.open}${write(d)}${n.close}` : write(d), duplicates: duplicateKeys(d) }));

// ------------------------------------------------------------------ properties

test('on valid and invalid documents: exactly JSON.parse, refused exactly when too deep or not finite', () => {
  const outcomes = { accepted: 0, refused: 0, duplicates: 0 };
  fc.assert(
    fc.property(document, ({ text, duplicates }) => {
      const got = actual(text);
      const want = expected(text);
      outcomes[got.valid ? 'accepted' : 'refused']++;
      if (got.valid) {
        assert.ok(want.valid, `accepted what must be refused: ${text.slice(0, 200)}`);
        assert.deepEqual(got.value, want.value);
      } else if (duplicates) {
        // A key named twice: JSON.parse drops the first value, which the text scan still saw.
        outcomes.duplicates++;
      } else {
        assert.ok(!want.valid, `refused a valid document: ${text.slice(0, 200)}`);
      }
    }),
    budget(3_000, 2_500),
  );
  assert.ok(outcomes.accepted > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
});

test('on fc.json and fc.jsonValue documents: returned as JSON.parse returns them', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.json(),
        fc.jsonValue({ stringUnit: 'binary' }).map((v) => JSON.stringify(v)),
      ),
      (text) => {
        const want = expected(text);
        const got = actual(text);
        assert.deepEqual(got, want);
      },
    ),
    budget(2_000, 1_500),
  );
});

test('jsonProblem with any depth limit: a problem exactly when the value is deeper or not finite', () => {
  fc.assert(
    fc.property(
      document.filter((d) => !d.duplicates),
      fc.integer({ min: 0, max: 200 }),
      ({ text }, maxDepth) => {
        const parsed = jsonParse(text);
        const problem = jsonProblem(text, maxDepth);
        if (!parsed.valid) return; // any answer: JSON.parse refuses it anyway
        assert.equal(
          problem !== undefined,
          depthOf(parsed.value) > maxDepth || !allFinite(parsed.value) || underflows(text),
          `${problem ?? 'no problem'} for ${text.slice(0, 200)}`,
        );
      },
    ),
    budget(2_000, 1_500),
  );
});

test('on damaged documents and random text: JSON.parse’s value or SB_ERR_BAD_JSON, never a wrong answer', () => {
  const outcomes = { accepted: 0, refused: 0 };
  fc.assert(
    fc.property(
      fc.oneof(
        damaged(document.map((d) => d.text)),
        damaged(fc.json()),
        fc.string({ unit: 'binary' }),
        fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', ',', ':', '1', 'e', '-', ' ') }),
      ),
      (text) => {
        const got = actual(text);
        const want = expected(text);
        outcomes[got.valid ? 'accepted' : 'refused']++;
        // Damage can name a key twice, so a refusal of a valid text is not checked here.
        if (got.valid) assert.deepEqual(got, want);
        if (!want.valid)
          assert.equal(got.valid, false, `accepted what must be refused: ${text.slice(0, 200)}`);
      },
    ),
    budget(4_000, 2_500),
  );
  assert.ok(outcomes.accepted > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
});
