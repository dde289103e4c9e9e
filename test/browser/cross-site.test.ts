/**
 * Cross-site WebSocket hijacking and cross-site requests, in real Chromium (issue 16 item 6): a
 * page of a foreign origin cannot open `/ws` or use `/lpio` as its visitor; a page of a listed
 * origin can, with CORS; requests without `Origin` are not browser pages and are unaffected.
 */
import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, skipBrowser } from '../helpers/chromium.js';
import { startServer, type TestServer } from '../helpers/start-server.js';

const skip = skipBrowser;

let hub: TestServer;
let browser: Browser;
const pages: Server[] = [];

/** A plain page server on its own port: a different origin from the hub's. */
async function pageServer(): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>page</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  pages.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let evil: string;
let friend: string;

before(async () => {
  if (skip) return;
  evil = await pageServer();
  friend = await pageServer();
  hub = await startServer({ allowedOrigins: [friend] });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await hub?.close();
  for (const server of pages) server.close();
});

async function visit(origin: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(origin);
  return page;
}

/** Opens a WebSocket from the page and says hello: 'welcome', or how it failed. */
function tryWebSocket(page: Page, url: string): Promise<string> {
  return page.evaluate(
    (target) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(target);
        ws.onmessage = (event) =>
          resolve(String((JSON.parse(String(event.data)) as { type?: unknown }).type));
        ws.onopen = () => ws.send('{"type":"hello"}');
        ws.onclose = (event) => resolve(`closed ${event.code}`);
      }),
    url,
  );
}

/** An LPIO POST from the page with the visitor's credentials: the status, or the fetch error. */
function tryLpio(page: Page, url: string): Promise<string> {
  return page.evaluate(async (target) => {
    try {
      const res = await fetch(target, {
        method: 'POST',
        credentials: 'include',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      const body = (await res.json()) as { set?: { id?: unknown } };
      return `${res.status} ${body.set?.id ? 'session' : 'none'}`;
    } catch (error) {
      return `failed: ${(error as Error).name}`;
    }
  }, url);
}

test('a page of a foreign origin can neither open /ws nor use /lpio as its visitor', { skip }, async () => {
  const page = await visit(evil);
  const opened = (await hub.server.stats()).counters.sessions_opened;
  assert.equal(await tryWebSocket(page, `${hub.origin.replace('http', 'ws')}/ws`), 'closed 1006');
  assert.equal(await tryLpio(page, `${hub.origin}/lpio`), 'failed: TypeError');
  // A "simple" cross-site POST needs no preflight: the server itself must refuse it. The page
  // cannot read the answer (opaque), but the fetch resolves only once there was one.
  const rejected = (await hub.server.stats()).counters.requests_rejected;
  await page.evaluate(async (target) => {
    await fetch(target, { method: 'POST', mode: 'no-cors', body: '{}' });
  }, `${hub.origin}/lpio`);
  const after = (await hub.server.stats()).counters;
  assert.equal(after.requests_rejected, rejected + 1, 'the server refused it');
  assert.equal(after.sessions_opened, opened, 'no session was opened for it');
  await page.close();
});

test('a page of a listed origin may, with CORS; the server own pages always may', { skip }, async () => {
  const page = await visit(friend);
  assert.equal(await tryWebSocket(page, `${hub.origin.replace('http', 'ws')}/ws`), 'welcome');
  assert.equal(await tryLpio(page, `${hub.origin}/lpio`), '200 session');
  await page.close();
  const own = await visit(`${hub.origin}/healthz`);
  assert.equal(await tryWebSocket(own, `${hub.origin.replace('http', 'ws')}/ws`), 'welcome');
  assert.equal(await tryLpio(own, `${hub.origin}/lpio`), '200 session');
  await own.close();
});
