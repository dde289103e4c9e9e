import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { PatternRoutes } from './patterns.js';

const sorted = (matched: string[]): string[] => [matched[0] as string, ...matched.slice(1).sort()];

test('matching answers the count first, then the patterns', () => {
  const routes = new PatternRoutes();
  assert.deepEqual(routes.matching('/a/b'), ['0']);
  assert.equal(routes.change(1, '+', '/a/*'), true);
  assert.equal(routes.change(2, '+', '/a/b'), true);
  assert.equal(routes.change(3, '+', '/c'), true);
  assert.deepEqual(sorted(routes.matching('/a/b')), ['2', '/a/*', '/a/b']);
  assert.deepEqual(routes.matching('/c'), ['1', '/c']);
  assert.equal(routes.version, 3);
});

test('changes apply in order: old ones are ignored, a gap is reported and changes nothing', () => {
  const routes = new PatternRoutes();
  routes.change(1, '+', '/a');
  assert.equal(routes.change(1, '-', '/a'), true, 'already applied: ignored');
  assert.deepEqual(routes.matching('/a'), ['1', '/a']);
  assert.equal(routes.change(3, '+', '/b'), false, 'version 2 was missed');
  assert.equal(routes.version, 1);
  assert.deepEqual(routes.matching('/b'), ['0']);
  assert.equal(routes.change(2, '-', '/a'), true);
  assert.deepEqual(routes.matching('/a'), ['0']);
  assert.equal(routes.version, 2);
});

test('adding twice and removing what is not there are no-ops that still advance the version', () => {
  const routes = new PatternRoutes();
  routes.change(1, '+', '/a');
  routes.change(2, '+', '/a');
  assert.deepEqual(routes.matching('/a'), ['1', '/a'], 'one route, not two');
  routes.change(3, '-', '/zzz');
  assert.equal(routes.version, 3);
  routes.change(4, '-', '/a');
  assert.deepEqual(routes.matching('/a'), ['0']);
  routes.change(5, '-', '/a');
  assert.deepEqual(routes.matching('/a'), ['0']);
});

test('replace makes the set exactly the given one, at its version', () => {
  const routes = new PatternRoutes();
  routes.change(1, '+', '/old');
  routes.change(2, '+', '/kept/*');
  routes.replace(10, ['/kept/*', '/new', '/new']);
  assert.equal(routes.version, 10);
  assert.deepEqual(routes.matching('/old'), ['0']);
  assert.deepEqual(routes.matching('/kept/x'), ['1', '/kept/*']);
  assert.deepEqual(routes.matching('/new'), ['1', '/new']);
  assert.equal(routes.change(11, '+', '/later'), true);
  assert.deepEqual(routes.matching('/later'), ['1', '/later']);
});

test('clear forgets every pattern and goes back to version 0', () => {
  const routes = new PatternRoutes();
  routes.change(1, '+', '/a');
  routes.clear();
  assert.equal(routes.version, 0);
  assert.deepEqual(routes.matching('/a'), ['0']);
  assert.equal(routes.change(1, '+', '/b'), true, 'version 1 applies again after a clear');
  assert.deepEqual(routes.matching('/b'), ['1', '/b']);
  assert.equal(routes.change(2, '+', '/a'), true);
  assert.deepEqual(routes.matching('/a'), ['1', '/a'], 'a cleared pattern can come back');
});
