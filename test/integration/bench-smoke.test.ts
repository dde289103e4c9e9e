/**
 * The benchmark harness still runs end to end (a server and a load generator in their own
 * processes, IPC, the table): one short run of the smallest fan-out, checked for shape, never for
 * speed. The other scenarios and systems are the benchmarks' own business (npm run bench).
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
  'a short fan-out over WebSocket runs end to end and fills its row of the table',
  { timeout: 60_000 },
  async () => {
    const out = await bench(['fanout', '--systems', 'switchboard-ws', '--subscribers', '5', '--rate', '50']);
    const cells = row(out, 'switchboard-ws');
    const delivered = Number((cells[3] ?? '').replace(/,/g, ''));
    const cpu = Number((cells[6] ?? '').replace(/,/g, ''));
    assert.ok(delivered > 0, `deliveries were counted: ${cells[3]}`);
    assert.ok(Number.isFinite(cpu) && cpu > 0, `CPU per delivery was measured: ${cells[6]}`);
  },
);
