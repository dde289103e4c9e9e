import { strict as assert } from 'node:assert';
import { randomBytes, randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { isStrongClientId } from './client-ids.js';

test('weak chosen ids are refused: names, numbers, short or repetitive strings', () => {
  for (const weak of [
    'alice',
    'bob@example.com',
    '1234567890123456',
    'aaaaaaaaaaaaaaaaaaaaaaaa',
    'abcdefghijklmnopqrstuvwxyz',
    'user-000000000001',
    'passwordpassword',
    'abababababababababababab',
    'john.doe@example.com',
    'https://example.com/me',
    'device-serial-00042',
    'qwertyuiopasdfgh',
    'a1b2c3d4e5f6g7h8',
  ]) {
    assert.equal(isStrongClientId(weak), false, weak);
  }
});

test('ids a random generator makes are accepted', () => {
  for (let i = 0; i < 200; i++) {
    for (const id of [randomUUID(), randomBytes(16).toString('base64url'), randomBytes(16).toString('hex')]) {
      assert.equal(isStrongClientId(id), true, id);
    }
  }
});

test('each rule refuses at its bound and accepts just inside it', () => {
  const strong = 'Q7xK2mP9vL4nR8tW1zY6bC'; // 22 distinct characters: about 98 bits
  assert.equal(isStrongClientId(strong), true);
  assert.equal(isStrongClientId(strong.slice(1)), false, '21 characters');
  assert.equal(isStrongClientId(`${strong}.`), false, 'a character outside the token alphabet');
  assert.equal(isStrongClientId(`${strong} `), false);
  // Runs of one character: 7 pass, 8 do not.
  assert.equal(isStrongClientId(`${strong}aaaaaaa`), true);
  assert.equal(isStrongClientId(`${strong}aaaaaaaa`), false);
  // Ascending runs: 8 pass, 9 do not.
  assert.equal(isStrongClientId(`${strong}abcdefgh`), true);
  assert.equal(isStrongClientId(`${strong}abcdefghi`), false);
  // Distinct characters: 8 pass, 7 do not (both long enough for the entropy estimate).
  assert.equal(isStrongClientId('abcdefgh'.repeat(6)), true);
  assert.equal(isStrongClientId('abcdefg'.repeat(7)), false);
  // The entropy estimate: 63.6 bits is refused, 64.4 bits accepted.
  assert.equal(isStrongClientId('xxxxxxxAxxxxxxxCxEGIKMOQSU'), false);
  assert.equal(isStrongClientId('xxxxxxxAxxxxxxxCxxEGIKMOQSU'), true);
});
