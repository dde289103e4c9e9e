import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { SwitchboardError } from './errors.js';
import { isMetaPath, MAX_PATH_DEPTH, MAX_PATH_LENGTH, parsePath, parsePattern } from './paths.js';

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof SwitchboardError, String(error));
    assert.equal(error.code, 'SB_ERR_BAD_PATH');
    return error.message;
  }
  assert.fail('no SB_ERR_BAD_PATH');
}

test('paths: "/" then segments of the allowed characters, split into segments', () => {
  assert.deepEqual(parsePath('/chat/room-1'), ['chat', 'room-1']);
  assert.deepEqual(parsePath('/a_b.c~d@e:f+g=h!i-j/0'), ['a_b.c~d@e:f+g=h!i-j', '0']);
  assert.deepEqual(parsePattern('/chat/*'), ['chat', '*']);
  assert.deepEqual(parsePattern('/chat/**'), ['chat', '**']);
});

test('paths: what is refused, and what the message says', () => {
  assert.equal(
    refusal(() => parsePath(5)),
    'path must be a string, got number',
  );
  assert.equal(
    refusal(() => parsePath('chat')),
    'path must start with "/", got "chat"',
  );
  assert.equal(
    refusal(() => parsePath('/')),
    'path has an empty or invalid segment in "/"',
  );
  assert.equal(
    refusal(() => parsePath('/a//b')),
    'path has an empty or invalid segment in "/a//b"',
  );
  assert.equal(
    refusal(() => parsePath('/a/b/')),
    'path has an empty or invalid segment in "/a/b/"',
  );
  assert.equal(
    refusal(() => parsePath('/a b')),
    'path has an empty or invalid segment in "/a b"',
  );
  assert.equal(
    refusal(() => parsePath('/a/*')),
    'path may not contain wildcards, got "/a/*"',
  );
  assert.equal(
    refusal(() => parsePath('/**')),
    'path may not contain wildcards, got "/**"',
  );
  assert.equal(
    refusal(() => parsePattern('/a/*/b')),
    'pattern may use "*" only as its last segment, got "/a/*/b"',
  );
  assert.equal(
    refusal(() => parsePattern('/**/b')),
    'pattern may use "**" only as its last segment, got "/**/b"',
  );
  assert.equal(
    refusal(() => parsePattern('/a/***')),
    'pattern has an empty or invalid segment in "/a/***"',
  );
  assert.equal(
    refusal(() => parsePattern('/a*')),
    'pattern has an empty or invalid segment in "/a*"',
  );
});

test('paths: at most MAX_PATH_LENGTH characters and MAX_PATH_DEPTH segments', () => {
  const longest = '/' + 'x'.repeat(MAX_PATH_LENGTH - 1);
  assert.equal(parsePath(longest).length, 1);
  assert.equal(
    refusal(() => parsePath(longest + 'x')),
    `path is longer than ${MAX_PATH_LENGTH} characters`,
  );
  const deepest = '/s'.repeat(MAX_PATH_DEPTH);
  assert.equal(parsePath(deepest).length, MAX_PATH_DEPTH);
  assert.equal(
    refusal(() => parsePath(deepest + '/s')),
    `path has more than ${MAX_PATH_DEPTH} segments`,
  );
  assert.equal(parsePattern('/s'.repeat(MAX_PATH_DEPTH - 1) + '/**').length, MAX_PATH_DEPTH);
});

test('meta paths: /meta and below, nothing that only starts with the same letters', () => {
  assert.equal(isMetaPath('/meta'), true);
  assert.equal(isMetaPath('/meta/subscribe'), true);
  assert.equal(isMetaPath('/metadata'), false);
  assert.equal(isMetaPath('/x/meta'), false);
});
