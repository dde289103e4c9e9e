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
