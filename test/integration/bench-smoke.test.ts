/**
 * The benchmark harness still runs end to end (servers and load generators in their own
 * processes, IPC, tables): a few short runs, checked for shape, never for speed.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const RUN = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

async function bench(args: string[]): Promise<string> {
  const child = spawn(
    process.execPath,
    [RUN, ...args, '--repeats', '1', '--warmup', '0.2', '--duration', '0.5'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, out);
  return out;
}

/** The cells of a table row for `system`. */
function row(out: string, system: string): string[] {
  const line = out.split('\n').find((l) => l.startsWith(`| ${system} |`));
  assert.ok(line, `no row for ${system} in:\n${out}`);
  return line
    .split('|')
    .slice(1, -1)
    .map((cell) => cell.trim());
}

test(
  'fan-out over WebSocket and LPIO delivers everything and reports CPU per delivery',
  { timeout: 60_000 },
  async () => {
    const out = await bench([
      'fanout',
      '--systems',
      'switchboard-ws,switchboard-lpio',
      '--subscribers',
      '5',
      '--rate',
      '50',
    ]);
    for (const system of ['switchboard-ws', 'switchboard-lpio']) {
      const cells = row(out, system);
      const delivered = Number((cells[3] ?? '').replace(/,/g, ''));
      const cpu = Number((cells[6] ?? '').replace(/,/g, ''));
      assert.ok(delivered > 0, `${system} delivered ${cells[3]}`);
      assert.ok(Number.isFinite(cpu) && cpu > 0, `${system} CPU per delivery ${cells[6]}`);
    }
  },
);

test('echo and idle run against a peer too', { timeout: 60_000 }, async () => {
  const echo = await bench(['echo', '--systems', 'switchboard-ws,ws-raw']);
  assert.ok(Number((row(echo, 'ws-raw')[1] ?? '').replace(/,/g, '')) > 0);
  const idle = await bench(['idle', '--systems', 'switchboard-ws', '--subscribers', '50']);
  assert.equal(row(idle, 'switchboard-ws')[6], '100%', 'every connection was made');
});
