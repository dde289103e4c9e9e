/**
 * The demo page in two real Chromium pages (Debian's chromium driven by playwright-core) chats
 * through the server, using the browser bundle of the SDK.
 */
import { strict as assert } from 'node:assert';
import { after, before, beforeEach, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, skipBrowser } from '../helpers/chromium.js';
import { startServer, type TestServer } from '../helpers/start-server.js';

const skip = skipBrowser;

let server: TestServer;
let browser: Browser;

before(async () => {
  if (skip) return;
  server = await startServer({ demo: true, settings: { batchWindowMs: 5 } });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** What went wrong in the pages of the running test: uncaught errors and console errors. */
let problems: string[] = [];

beforeEach(() => {
  problems = [];
});

/** Fails the test if any of its pages threw or logged an error. */
function assertNoProblems(): void {
  assert.deepEqual(problems, [], 'the pages ran without errors');
}

async function openChat(name: string, query = ''): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (error) => problems.push(`${name}: uncaught ${error.name}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`${name}: console.error ${message.text()}`);
  });
  await page.goto(server.origin + '/' + query);
  await page.fill('#name', name);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'connected');
  // The room subscription is acked before anyone speaks.
  await page.waitForSelector('#room-path[data-subscribed="true"]');
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('#send');
}

function lines(page: Page): Promise<string[]> {
  return page.$$eval('#messages li:not(.pending)', (items) => items.map((li) => li.textContent ?? ''));
}

const transportOf = (page: Page) => page.$eval('#transport', (el) => el.textContent);

test('two browser pages chat through the demo page', { skip, timeout: 60_000 }, async () => {
  const alice = await openChat('alice');
  const bob = await openChat('bob');
  assert.equal(await transportOf(alice), 'websocket', "the browser's own WebSocket");
  await say(alice, 'hello bob');
  await bob.waitForFunction(() => document.querySelector('#messages')?.textContent?.includes('hello bob'));
  await alice.waitForFunction(() => document.querySelector('#messages li:not(.pending)') !== null);
  assert.deepEqual(await lines(bob), ['alicehello bob']);
  assert.deepEqual(await lines(alice), ['alicehello bob']);

  await say(bob, 'hi alice');
  await alice.waitForFunction(() => document.querySelector('#messages')?.textContent?.includes('hi alice'));
  await bob.waitForFunction(() => document.querySelectorAll('#messages li:not(.pending)').length === 2);
  assert.deepEqual(await lines(alice), ['alicehello bob', 'bobhi alice']);
  assert.deepEqual(await lines(bob), ['alicehello bob', 'bobhi alice']);
  await Promise.all([alice.close(), bob.close()]);
  assertNoProblems();
});

test(
  "a page on the browser's WebSocket and a page on LPIO talk to each other",
  { skip, timeout: 60_000 },
  async () => {
    const ws = await openChat('wendy');
    const lp = await openChat('larry', '?transport=lpio');
    assert.equal(await transportOf(ws), 'websocket');
    assert.equal(await transportOf(lp), 'lpio');
    // A room name the page's pattern refuses is not joined (the change handler joins synchronously).
    await ws.fill('#room', 'bad room!');
    await ws.dispatchEvent('#room', 'change');
    assert.equal(await ws.$eval('#room', (el) => (el as HTMLInputElement).checkValidity()), false);
    assert.equal(await ws.$eval('#room-path', (el) => el.textContent), '/chat/room-1');
    for (const page of [ws, lp]) {
      await page.fill('#room', 'mixed');
      await page.dispatchEvent('#room', 'change');
      await page.waitForFunction(() => document.getElementById('room-path')?.textContent === '/chat/mixed');
      await page.waitForSelector('#room-path[data-subscribed="true"]');
    }
    await say(ws, 'over websocket');
    await lp.waitForFunction(() =>
      document.querySelector('#messages')?.textContent?.includes('over websocket'),
    );
    await say(lp, 'over lpio');
    await ws.waitForFunction(() => document.querySelector('#messages')?.textContent?.includes('over lpio'));
    assert.deepEqual(await lines(ws), ['wendyover websocket', 'larryover lpio']);
    await Promise.all([ws.close(), lp.close()]);
    assertNoProblems();
  },
);
