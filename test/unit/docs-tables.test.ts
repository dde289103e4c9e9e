/**
 * docs/errors.md is what clients code against: every error code with its HTTP status, every close
 * reason with its code and whether to reconnect. These tests hold the tables and the code to each
 * other, in both directions.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES, SwitchboardError, type ErrorCode } from '../../src/core/errors.js';
import { CLOSE_REASONS, closeReason, isCloseReasonName } from '../../src/core/close-reasons.js';

const doc = readFileSync('docs/errors.md', 'utf8');

/** The rows of the first Markdown table after `heading`, as cells without backticks. */
function table(heading: string): string[][] {
  const start = doc.indexOf(heading);
  assert.notEqual(start, -1, `docs/errors.md has no "${heading}"`);
  const lines = doc.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim().replaceAll('`', '')),
    );
  }
  return rows;
}

test('every error code is documented with its HTTP status, and nothing else is', () => {
  const documented = new Map(
    table('## Error codes').map(([code, status]) => [code as string, Number(status)]),
  );
  assert.deepEqual(
    [...documented].sort(),
    Object.entries(ERROR_CODES).sort(),
    'docs/errors.md and src/core/errors.ts list the same codes with the same statuses',
  );
  for (const [code, status] of documented) {
    assert.equal(new SwitchboardError(code as ErrorCode, 'x').status, status, code);
  }
});

test('every close reason is documented with its code, reconnect and session-ended flags', () => {
  const rows = table('## Close reasons');
  const documented = rows.map(([name, code, reconnect, ended]) => ({
    name,
    code: Number(code),
    reconnect: reconnect === 'yes',
    sessionEnded: ended === 'yes',
  }));
  const actual = Object.entries(CLOSE_REASONS).map(([name, reason]) => ({
    name,
    code: reason.code,
    reconnect: reason.reconnect,
    sessionEnded: reason.sessionEnded,
  }));
  assert.deepEqual(documented, actual);
  for (const { name, code } of documented) {
    assert.ok(isCloseReasonName(name), name);
    assert.equal(closeReason(name).code, code);
    assert.equal(closeReason(name).name, name);
  }
  assert.equal(isCloseReasonName('nope'), false);
  assert.equal(isCloseReasonName(4000), false);
});

test('the close code ranges of the docs hold: 40xx resume, 41xx new session, 45xx stop', () => {
  for (const [name, reason] of Object.entries(CLOSE_REASONS)) {
    if (reason.code < 4100) {
      assert.equal(reason.reconnect && !reason.sessionEnded, true, name);
    } else if (reason.code < 4500) {
      assert.equal(reason.reconnect && reason.sessionEnded, true, name);
    } else {
      assert.equal(!reason.reconnect && reason.sessionEnded, true, name);
    }
  }
});
