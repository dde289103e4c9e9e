/**
 * What the server serves of its own: the SDK bundle (minified, with its source map), the favicon
 * and the demo page, each with a strong ETag, revalidated with 304, and with caching headers.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { serve } from '../helpers/start-server.js';

test('the bundle, its source map, the favicon and the page: ETag, 304 on revalidation, caching', async (t) => {
  const server = await serve(t, { demo: true });
  const cases = [
    ['/switchboard.js', 'text/javascript; charset=utf-8', 'public, max-age=300'],
    ['/switchboard.js.map', 'application/json; charset=utf-8', 'public, max-age=300'],
    ['/favicon.ico', 'image/x-icon', 'public, max-age=86400'],
    ['/', 'text/html; charset=utf-8', 'no-cache'],
  ] as const;
  for (const [path, type, cache] of cases) {
    const first = await fetch(server.origin + path);
    assert.equal(first.status, 200, path);
    assert.equal(first.headers.get('content-type'), type, path);
    assert.equal(first.headers.get('cache-control'), cache, path);
    const etag = first.headers.get('etag') ?? '';
    assert.match(etag, /^"[A-Za-z0-9_-]{27}"$/, `${path}: a strong ETag`);
    const body = Buffer.from(await first.arrayBuffer());
    assert.equal(Number(first.headers.get('content-length')), body.length);
    const again = await fetch(server.origin + path, { headers: { 'if-none-match': `"other", ${etag}` } });
    assert.equal(again.status, 304, `${path}: revalidated`);
    assert.equal(again.headers.get('etag'), etag);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
    const stale = await fetch(server.origin + path, { headers: { 'if-none-match': '"stale"' } });
    assert.equal(stale.status, 200, `${path}: another ETag gets the body`);
    await stale.arrayBuffer();
    const head = await fetch(server.origin + path, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('etag'), etag);
    const post = await fetch(server.origin + path, { method: 'POST' });
    assert.equal(post.status, 405, path);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    assert.equal(
      ((await post.json()) as { error: { code: string } }).error.code,
      'SB_ERR_METHOD_NOT_ALLOWED',
    );
  }
});

test('the bundle is minified and points at its source map, which maps back to the SDK sources', async (t) => {
  const server = await serve(t);
  const bundle = await (await fetch(`${server.origin}/switchboard.js`)).text();
  assert.match(bundle, /\/\/# sourceMappingURL=switchboard\.js\.map\s*$/);
  const lines = bundle.split('\n').length;
  assert.ok(lines < 20, `minified: ${lines} lines`);
  const map = (await (await fetch(`${server.origin}/switchboard.js.map`)).json()) as { sources: string[] };
  assert.ok(
    map.sources.some((source) => source.endsWith('src/client/client.ts')),
    map.sources.join(' '),
  );
  // The page's icon is a real ICO (the header's reserved 0 and type 1).
  const icon = readFileSync(new URL('../../../public/favicon.ico', import.meta.url));
  assert.deepEqual([...icon.subarray(0, 4)], [0, 0, 1, 0]);
});
