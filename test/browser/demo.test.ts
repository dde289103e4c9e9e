/**
 * The demo page in real Chromium pages (Debian's chromium driven by playwright-core), through a
 * real server and the browser bundle of the SDK: chat between pages and transports, the transport
 * picker, room names checked before joining, each own message's state (with a retry button when
 * it failed), and a server restart with two pages open: both say they are reconnecting, a message
 * sent meanwhile is delivered afterwards, and the new session is announced. Screenshots check that
 * the states are rendered, not only set in the DOM.
 */
import { strict as assert } from 'node:assert';
import { after, before, beforeEach, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createSwitchboard, type Switchboard, type SwitchboardOptions } from '../../src/index.js';
import { launchChromium, skipBrowser } from '../helpers/chromium.js';
import { readPng } from '../helpers/png.js';
import { startServer, type TestServer } from '../helpers/start-server.js';

const skip = skipBrowser;

let server: TestServer;
let browser: Browser;
/** Publishes to this path are refused while it is in the set (for the failed-message test). */
const closedRooms = new Set<string>();
/** Subscribing to these is refused. */
const privateRooms = new Set(['/chat/private']);
/** While set, a publish to /chat/slow waits for it: its ack comes late. */
let slowGate: Promise<void> | undefined;

before(async () => {
  if (skip) return;
  server = await startServer({
    demo: true,
    settings: { batchWindowMs: 5 },
    authorize: async (action, target) => {
      if (action === 'publish' && target === '/chat/slow') await slowGate;
      if (action === 'subscribe' && privateRooms.has(target)) return false;
      return !(action === 'publish' && closedRooms.has(target));
    },
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** What went wrong in the pages of the running test: uncaught errors and console errors. */
let problems: string[] = [];
/**
 * While a test has the server down on purpose, the browser's own reports of refused connections
 * are what the outage is expected to cause: kept here, not counted as problems.
 */
let outage: string[] | undefined;

beforeEach(() => {
  problems = [];
  outage = undefined;
});

/** Fails the test if any of its pages threw or logged an error (a 404 favicon would, too). */
function assertNoProblems(): void {
  assert.deepEqual(problems, [], 'the pages ran without errors');
}

async function openPage(name: string, origin: string, query = ''): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (error) => problems.push(`${name}: uncaught ${error.name}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = `${name}: console.error ${message.text()}`;
    if (outage && message.text().includes('net::ERR_CONNECTION_REFUSED')) outage.push(text);
    else problems.push(text);
  });
  await page.goto(origin + '/' + query);
  return page;
}

async function openChat(name: string, query = '', origin = server.origin): Promise<Page> {
  const page = await openPage(name, origin, query);
  await page.fill('#name', name);
  await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'connected');
  // The room subscription is acked before anyone speaks.
  await page.waitForSelector('#room-path[data-subscribed="true"]');
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('#send');
}

/** The chat as a reader sees it: `name: text` (own ones `name (you): text [state]`), separators as is. */
function lines(page: Page): Promise<string[]> {
  return page.$$eval('#messages li', (items) =>
    items.map((li) => {
      if (li.classList.contains('separator')) return li.textContent ?? '';
      const who = li.querySelector('.who')?.textContent ?? '';
      const text = li.querySelector('.text')?.textContent ?? '';
      const state = li.querySelector('.state')?.textContent;
      return state === undefined ? `${who}: ${text}` : `${who}: ${text} [${state}]`;
    }),
  );
}

const transportOf = (page: Page) => page.$eval('#transport', (el) => el.textContent);
const statusOf = (page: Page) =>
  page.$eval('#status', (el) => [(el as HTMLElement).dataset.state, el.textContent]);

async function changeRoom(page: Page, room: string): Promise<void> {
  await page.fill('#room', room);
  await page.dispatchEvent('#room', 'change');
}

/** The colour the page really painted just inside the top-left corner of `selector`. */
async function paintedColor(page: Page, selector: string): Promise<[number, number, number]> {
  const box = await page.locator(selector).first().boundingBox();
  assert.ok(box, `${selector} is rendered`);
  const shot = readPng(await page.screenshot());
  return shot.at(Math.round(box.x + 2), Math.round(box.y + 2));
}

function near(actual: [number, number, number], expected: [number, number, number], what: string): void {
  const off = actual.some((c, i) => Math.abs(c - (expected[i] as number)) > 12);
  assert.ok(!off, `${what}: painted rgb(${actual.join(', ')}), expected about rgb(${expected.join(', ')})`);
}

test(
  'two pages chat: own messages told apart and marked delivered; the favicon answers',
  { skip, timeout: 60_000 },
  async () => {
    const alice = await openChat('alice');
    const bob = await openChat('bob');
    assert.equal(await transportOf(alice), 'websocket', "the browser's own WebSocket");
    await say(alice, 'hello bob');
    await bob.waitForFunction(() => document.querySelector('#messages')?.textContent?.includes('hello bob'));
    await alice.waitForSelector('#messages li.own[data-state="delivered"]');
    assert.deepEqual(await lines(bob), ['— you are in room-1 —', 'alice: hello bob']);
    assert.deepEqual(await lines(alice), ['— you are in room-1 —', 'alice (you): hello bob [delivered]']);
    await say(bob, 'hi alice');
    await alice.waitForFunction(() => document.querySelector('#messages')?.textContent?.includes('hi alice'));
    assert.deepEqual((await lines(alice)).slice(1), ['alice (you): hello bob [delivered]', 'bob: hi alice']);
    near(await paintedColor(alice, '#messages li.own'), [0xf2, 0xf6, 0xff], 'an own message');
    near(await paintedColor(alice, '#status'), [0xc8, 0xf0, 0xc8], 'connected');
    const icon = await fetch(`${server.origin}/favicon.ico`);
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get('content-type'), 'image/x-icon');
    await Promise.all([alice.close(), bob.close()]);
    assertNoProblems();
  },
);

test(
  'the transport picker: WebSocket and LPIO pages talk; an unknown transport says so and uses automatic',
  { skip, timeout: 60_000 },
  async () => {
    const ws = await openChat('wendy');
    const lp = await openChat('larry');
    // Picking LPIO reloads the page on it.
    await Promise.all([lp.waitForURL(/\?transport=lpio$/), lp.selectOption('#transport-picker', 'lpio')]);
    await lp.waitForFunction(() => document.getElementById('status')?.dataset.state === 'connected');
    await lp.waitForSelector('#room-path[data-subscribed="true"]');
    assert.equal(await transportOf(lp), 'lpio');
    assert.equal(await lp.$eval('#transport-picker', (el) => (el as HTMLSelectElement).value), 'lpio');
    await lp.fill('#name', 'larry');
    await say(ws, 'over websocket');
    await lp.waitForFunction(() =>
      document.querySelector('#messages')?.textContent?.includes('over websocket'),
    );
    await say(lp, 'over lpio');
    await ws.waitForFunction(() => document.querySelector('#messages')?.textContent?.includes('over lpio'));
    assert.deepEqual((await lines(ws)).slice(1), [
      'wendy (you): over websocket [delivered]',
      'larry: over lpio',
    ]);
    const odd = await openChat('sam', '?transport=sse');
    assert.equal(
      await odd.$eval('#notice', (el) => [(el as HTMLElement).hidden, el.textContent]).then(String),
      String([false, 'Unknown transport “sse”: using automatic.']),
    );
    assert.equal(await transportOf(odd), 'websocket');
    assert.equal(await odd.$eval('#transport-picker', (el) => (el as HTMLSelectElement).value), '');
    await Promise.all([ws.close(), lp.close(), odd.close()]);
    assertNoProblems();
  },
);

test(
  'a bad room name is refused before joining; a refused room is not joined; a good one is joined first, then the old one left',
  { skip, timeout: 60_000 },
  async () => {
    const page = await openChat('rita');
    await changeRoom(page, 'private');
    await page.waitForFunction(() => document.getElementById('room-error')?.textContent !== '');
    assert.match(
      (await page.$eval('#room-error', (el) => el.textContent)) ?? '',
      /^Could not join private: /,
    );
    assert.equal(await page.$eval('#room', (el) => (el as HTMLInputElement).value), 'room-1');
    await changeRoom(page, 'my room');
    await page.waitForFunction(() => document.getElementById('room-error')?.textContent !== '');
    assert.equal(
      await page.$eval('#room-error', (el) => el.textContent),
      '“my room” is not a room name: a room name is 1–40 letters, digits, “_” or “-”.',
    );
    assert.equal(await page.$eval('#room', (el) => (el as HTMLInputElement).validity.customError), true);
    assert.equal(await page.$eval('#room-path', (el) => el.textContent), '/chat/room-1', 'still in room-1');
    await say(page, 'still here');
    await page.waitForSelector('#messages li.own[data-state="delivered"]');
    await changeRoom(page, 'new-room_2');
    await page.waitForFunction(
      () => document.getElementById('room-path')?.textContent === '/chat/new-room_2',
    );
    assert.equal(await page.$eval('#room-error', (el) => el.textContent), '');
    // Left room-1: what is published there no longer shows; the new room's messages do.
    await server.server.publish('/chat/room-1', { name: 'server', text: 'old room' });
    await server.server.publish('/chat/new-room_2', { name: 'server', text: 'new room' });
    await page.waitForFunction(() => document.querySelector('#messages')?.textContent?.includes('new room'));
    assert.deepEqual(await lines(page), [
      '— you are in room-1 —',
      'rita (you): still here [delivered]',
      '— you are in new-room_2 —',
      'server: new room',
    ]);
    await page.close();
    assertNoProblems();
  },
);

test(
  'own messages show their states: retrying while the ack is late; failed with its code and a retry button',
  { skip, timeout: 60_000 },
  async () => {
    closedRooms.add('/chat/closed');
    const page = await openChat('fred');
    let release!: () => void;
    slowGate = new Promise<void>((resolve) => (release = resolve));
    await changeRoom(page, 'slow');
    await page.waitForFunction(() => document.getElementById('room-path')?.textContent === '/chat/slow');
    await say(page, 'late');
    // No ack within the SDK's ackTimeout (1 s): retrying, then delivered once the server answers.
    await page.waitForSelector('#messages li.own[data-state="retrying"]');
    near(await paintedColor(page, '#messages li.own'), [0xf2, 0xf6, 0xff], 'the retrying own message');
    release();
    slowGate = undefined;
    await page.waitForSelector('#messages li.own[data-state="delivered"]');
    assert.deepEqual((await lines(page)).at(-1), 'fred (you): late [delivered]');
    await changeRoom(page, 'closed');
    await page.waitForFunction(() => document.getElementById('room-path')?.textContent === '/chat/closed');
    await say(page, 'knock knock');
    await page.waitForSelector('#messages li.own:last-child[data-state="failed"] button.retry');
    assert.deepEqual((await lines(page)).at(-1), 'fred (you): knock knock [failed: SB_ERR_FORBIDDEN]');
    closedRooms.delete('/chat/closed');
    await page.click('#messages li.own:last-child button.retry');
    await page.waitForSelector('#messages li.own:last-child[data-state="delivered"]');
    assert.deepEqual((await lines(page)).at(-1), 'fred (you): knock knock [delivered]');
    assert.equal(await page.$$eval('button.retry', (buttons) => buttons.length), 0);
    await page.close();
    assertNoProblems();
  },
);

test(
  'a server restart with two pages open: reconnecting shown, a message sent meanwhile delivered, the new session announced',
  { skip, timeout: 90_000 },
  async () => {
    const options: SwitchboardOptions = { demo: true, settings: { batchWindowMs: 5 } };
    let hub: Switchboard = createSwitchboard(options);
    const { port } = await hub.listen({ host: '127.0.0.1', port: 0 });
    const origin = `http://127.0.0.1:${port}`;
    try {
      const alice = await openChat('alice', '', origin);
      const bob = await openChat('bob', '?transport=lpio', origin);
      outage = [];
      await hub.close();
      for (const page of [alice, bob]) {
        await page.waitForFunction(() =>
          document.getElementById('status')?.textContent?.startsWith('reconnecting in'),
        );
      }
      near(await paintedColor(alice, '#status'), [0xff, 0xe2, 0xa8], 'reconnecting');
      await say(alice, 'sent while the server was down');
      await alice.waitForSelector('#messages li.own[data-state="pending"]');
      near(await paintedColor(alice, '#messages li.own'), [0xf2, 0xf6, 0xff], 'the pending own message');

      // The same port, a new process's worth of state (memory engine): every session is new.
      hub = createSwitchboard(options);
      await hub.listen({ host: '127.0.0.1', port });
      for (const page of [alice, bob]) {
        await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'connected');
        await page.waitForFunction(() => !(document.getElementById('notice') as HTMLElement).hidden);
        assert.equal(
          await page.$eval('#notice', (el) => el.textContent),
          'The server started a new session: messages sent while you were away may be lost.',
        );
      }
      // The browser's own reports of the attempts refused during the outage may come in late:
      // they stay expected to the end of this test; any other error is still a problem.
      assert.ok(outage.length > 0, 'the pages tried to reconnect while the server was down');
      await alice.waitForSelector('#messages li.own[data-state="delivered"]');
      assert.deepEqual(
        (await lines(alice)).at(-1),
        'alice (you): sent while the server was down [delivered]',
      );
      near(await paintedColor(alice, '#status'), [0xc8, 0xf0, 0xc8], 'connected again');
      // Both pages subscribed their room again by themselves: a probe from the server reaches bob.
      const bobHas = (text: string) =>
        bob.evaluate((t) => document.querySelector('#messages')?.textContent?.includes(t) === true, text);
      for (let i = 0; i < 100 && !(await bobHas('probe')); i++) {
        await hub.publish('/chat/room-1', { name: 'server', text: `probe ${i}` });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(await bobHas('probe'), 'bob is in the room again');
      await say(alice, 'after the restart');
      await bob.waitForFunction(() =>
        document.querySelector('#messages')?.textContent?.includes('after the restart'),
      );
      assert.deepEqual(await statusOf(bob), ['connected', 'connected']);
      await Promise.all([alice.close(), bob.close()]);
      assertNoProblems();
    } finally {
      await hub.close();
    }
  },
);
