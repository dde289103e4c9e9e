import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { PathRouter } from './router.js';

function matches(router: PathRouter<string>, path: string): string[] {
  const seen: string[] = [];
  router.match(path, (s) => seen.push(s));
  return seen.sort();
}

test('exact paths match only themselves', () => {
  const router = new PathRouter<string>();
  router.add('/chat/room-1', 'a');
  assert.deepEqual(matches(router, '/chat/room-1'), ['a']);
  assert.deepEqual(matches(router, '/chat/room-2'), []);
  assert.deepEqual(matches(router, '/chat'), []);
  assert.deepEqual(matches(router, '/chat/room-1/x'), []);
});

test('/a/* matches exactly one more segment; /a/** any depth but not /a itself', () => {
  const router = new PathRouter<string>();
  router.add('/a/*', 'one');
  router.add('/a/**', 'any');
  router.add('/**', 'all');
  assert.deepEqual(matches(router, '/a'), ['all']);
  assert.deepEqual(matches(router, '/a/b'), ['all', 'any', 'one']);
  assert.deepEqual(matches(router, '/a/b/c'), ['all', 'any']);
  assert.deepEqual(matches(router, '/b/c'), ['all']);
});

test('a subscriber is visited once per matching pattern; remove prunes', () => {
  const router = new PathRouter<string>();
  assert.equal(router.add('/x/*', 's'), true);
  assert.equal(router.add('/x/*', 's'), false);
  router.add('/x/y', 's');
  assert.deepEqual(matches(router, '/x/y'), ['s', 's']);
  assert.equal(router.size, 2);
  assert.equal(router.remove('/x/y', 's'), true);
  assert.equal(router.remove('/x/y', 's'), false);
  assert.deepEqual(matches(router, '/x/y'), ['s']);
  router.remove('/x/*', 's');
  assert.equal(router.size, 0);
  assert.deepEqual(matches(router, '/x/y'), []);
});

test('bad paths and patterns throw SB_ERR_BAD_PATH', () => {
  const router = new PathRouter<string>();
  for (const bad of ['', 'no-slash', '/a//b', '/a/**/b', '/a/*x', '/a b', '/' + 'x/'.repeat(20) + 'x']) {
    assert.throws(() => router.add(bad, 's'), { code: 'SB_ERR_BAD_PATH' }, bad);
  }
  assert.throws(() => router.match('/a/*', () => {}), { code: 'SB_ERR_BAD_PATH' });
});

test('one subscriber leaving a pattern leaves the others on it; size counts patterns held', () => {
  const router = new PathRouter<string>();
  for (const pattern of ['/a', '/b/*', '/c/**']) {
    router.add(pattern, 'stays');
    router.add(pattern, 'leaves');
  }
  assert.equal(router.size, 3, 'one entry per pattern, of each kind');
  for (const pattern of ['/a', '/b/*', '/c/**']) router.remove(pattern, 'leaves');
  assert.deepEqual(matches(router, '/a'), ['stays']);
  assert.deepEqual(matches(router, '/b/x'), ['stays']);
  assert.deepEqual(matches(router, '/c/x/y'), ['stays']);
  assert.equal(router.size, 3);
  router.remove('/c/**', 'stays');
  assert.equal(router.size, 2);
});

test('wildcards match whole segments: /ab/* and /ab/** say nothing of /abc', () => {
  const router = new PathRouter<string>();
  router.add('/ab/*', 'one');
  router.add('/ab/**', 'any');
  assert.deepEqual(matches(router, '/abc/d'), []);
  assert.deepEqual(matches(router, '/abc/d/e'), []);
  assert.deepEqual(matches(router, '/ab/d/e'), ['any']);
});
