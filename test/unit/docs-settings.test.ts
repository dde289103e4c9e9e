/**
 * docs/configuration.md's settings tables are what operators tune from: every setting the hub
 * takes is listed there with its real default, and nothing else is.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { test } from 'node:test';
import { DEFAULT_SETTINGS, resolveSettings } from '../../src/core/settings.js';

const doc = readFileSync('docs/configuration.md', 'utf8');

/** Every `| \`name\` | default | why |` row of the settings section. */
function documentedDefaults(): Map<string, string> {
  const section = doc.slice(doc.indexOf('## Settings'), doc.indexOf('\n## ', doc.indexOf('## Settings') + 1));
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const match = /^\| `([A-Za-z]+)` +\| ([^|]+?) +\|/.exec(line);
    if (match) rows.set(match[1] as string, match[2] as string);
  }
  return rows;
}

/** "1,000" → 1000, "1 MiB" → 1048576, "400 KiB" → 409600, "0.5" → 0.5. */
function value(text: string): number {
  const units: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2 };
  const match = /^([\d,.]+)(?: (KiB|MiB))?$/.exec(text);
  assert.ok(match, `not a number with an optional unit: ${text}`);
  return Number((match[1] as string).replaceAll(',', '')) * (match[2] ? (units[match[2]] as number) : 1);
}

test('every hub setting is documented with its default, and every documented one exists', () => {
  const documented = documentedDefaults();
  assert.deepEqual([...documented.keys()].sort(), Object.keys(DEFAULT_SETTINGS).sort());
  for (const [name, text] of documented) {
    const actual = DEFAULT_SETTINGS[name as keyof typeof DEFAULT_SETTINGS];
    if (name === 'tombstones') {
      assert.equal(text, '`maxSessions`');
      assert.equal(resolveSettings().tombstones, DEFAULT_SETTINGS.maxSessions);
    } else if (name === 'memoryBudgetBytes') {
      assert.equal(text, "75 % of V8's heap limit");
      assert.equal(actual, Math.floor(getHeapStatistics().heap_size_limit * 0.75));
    } else {
      assert.equal(actual, value(text), name);
    }
  }
});
