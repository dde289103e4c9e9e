/**
 * Debian's Chromium driven by playwright-core, as every browser test starts it: headless, and
 * without the background networking this machine's closed network would refuse.
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Browser tests skip (with this reason) when SWITCHBOARD_SKIP_BROWSER is set. */
export const skipBrowser = process.env.SWITCHBOARD_SKIP_BROWSER ? 'SWITCHBOARD_SKIP_BROWSER is set' : false;

export function launchChromium(): Promise<Browser> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: apt-get install -y chromium (npm run test:all does)`,
  );
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
