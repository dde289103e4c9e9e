/**
 * The benchmark harness. Usage: npm run bench -- <scenario> [options]; `--help` lists them.
 * Each run starts the server under test in its own process pinned to core 0 and the load generator
 * pinned to core 1, both on 127.0.0.1; every run is bounded in time and its processes are stopped
 * by PID. Repeats interleave the systems so that machine noise spreads over all of them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Histogram } from './lib/histogram.js';
import { request, type LoadReport } from './lib/ipc.js';
import { renderChart } from './lib/chart.js';
import { summarize, formatTable, type Row, type Summary } from './lib/report.js';
import type { ServerMode } from './lib/system.js';
import { SYSTEMS, systemNamed } from './systems/index.js';
import { CLUSTER_CONFIGS, isClusterConfig, redisVersion, runClusterOnce } from './cluster.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

const SCENARIOS = ['fanout', 'longpoll', 'idle', 'echo', 'cluster'] as const;
type Scenario = (typeof SCENARIOS)[number];

const USAGE = `Usage: npm run bench -- <${SCENARIOS.join('|')}> [options]
  --systems a,b        systems to run (default: by scenario; known: ${[...SYSTEMS.keys()].join(', ')});
                       for cluster, configurations (default: ${CLUSTER_CONFIGS.join(', ')})
  --subscribers n,m    receivers per run (fanout: 100,1000; longpoll: 200; idle: 5000; cluster: 1000)
  --rate r,max         offered publishes/s; "max" publishes as fast as deliveries return (default 20,max)
  --duration s         measured seconds per run (default 10)
  --warmup s           seconds before measuring (default 3)
  --repeats n          runs per configuration, median reported (default 3)
  --payload bytes      payload size (default 100)
  --window n           with rate max: publishes in flight per receiver (default 64)
  --record name        write bench/results/<name>.json and docs/benchmarks/<name>.svg
  --no-pin             do not pin processes with taskset
  --profile            write the server's (cluster: each node's) CPU profile (node --cpu-prof) to bench/profiles/`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    systems: { type: 'string' },
    subscribers: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    repeats: { type: 'string', default: '3' },
    payload: { type: 'string', default: '100' },
    window: { type: 'string', default: '64' },
    record: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

const isScenario = (name: string | undefined): name is Scenario => SCENARIOS.some((s) => s === name);
const scenarioArg = positionals[0];
if (values.help || !isScenario(scenarioArg)) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
const scenario: Scenario = scenarioArg;

const durationMs = Number(values.duration) * 1000;
const warmupMs = Number(values.warmup) * 1000;
const repeats = Number(values.repeats);
const payloadSize = Number(values.payload);
const pin = !values['no-pin'] && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

function defaultSystems(): string[] {
  const all = [...SYSTEMS.values()];
  if (scenario === 'fanout')
    return all.filter((s) => s.kind === 'websocket' || s.pkg === 'switchboard').map((s) => s.name);
  if (scenario === 'longpoll') return all.filter((s) => s.kind === 'polling').map((s) => s.name);
  if (scenario === 'cluster') return [...CLUSTER_CONFIGS];
  return all.map((s) => s.name);
}

const list = (value: string | undefined, fallback: string[]): string[] =>
  value === undefined ? fallback : value.split(',').filter(Boolean);
const systems = list(values.systems, defaultSystems());
for (const name of systems) {
  if (scenario !== 'cluster') systemNamed(name);
  else if (!isClusterConfig(name))
    throw new Error(`unknown cluster configuration "${name}"; known: ${CLUSTER_CONFIGS.join(', ')}`);
}
const defaultSubscribers = {
  fanout: ['100', '1000'],
  longpoll: ['200'],
  idle: ['5000'],
  echo: ['1'],
  cluster: ['1000'],
}[scenario];
const subscriberCounts = list(values.subscribers, defaultSubscribers).map(Number);
const rates = list(values.rate, scenario === 'echo' || scenario === 'idle' ? ['0'] : ['20', 'max']).map(
  (r) => (r === 'max' ? 0 : Number(r)),
);

const profile = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(root, 'bench', 'profiles')}`] : [];

function launch(script: string, args: string[], core: number, nodeFlags: string[] = []): ChildProcess {
  const node = [...nodeFlags, join(here, script), ...args];
  const [command, argv] = pin
    ? ['taskset', ['-c', String(core), process.execPath, ...node]]
    : [process.execPath, node];
  return spawn(command, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function ready<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown) => {
      child.off('exit', onExit);
      resolve(message as T);
    };
    const onExit = (code: number | null) => reject(new Error(`process exited (${code}) before it was ready`));
    child.once('message', onMessage);
    child.once('exit', onExit);
  });
}

interface ServerStats {
  cpuMicros: number;
  rss: number;
  heapUsed: number;
  requests: number;
  upgrades: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One run of one system: its own fresh server and load processes, always stopped at the end. */
async function runOnce(system: string, subscribers: number, rate: number): Promise<Row> {
  const mode: ServerMode = scenario === 'echo' ? 'echo' : 'broadcast';
  const server = launch('server-process.js', [system, mode], 0, ['--expose-gc', ...profile]);
  const load = launch('load-process.js', [], pin ? 1 : 0);
  // A hard bound on the whole run, whatever happens inside it.
  const deadline = setTimeout(
    () => {
      server.kill('SIGKILL');
      load.kill('SIGKILL');
    },
    warmupMs + durationMs + 180_000,
  );
  try {
    const { port } = await ready<{ port: number }>(server);
    await ready(load);
    const url = `http://127.0.0.1:${port}`;
    const base = { scenario, system, subscribers, rate };
    if (scenario === 'echo') {
      const before = await request<ServerStats>(server, 'stats');
      const result = await request<LoadReport & { roundTrips: number }>(load, 'echo', {
        system,
        url,
        payloadSize,
        warmupMs,
        durationMs,
      });
      const after = await request<ServerStats>(server, 'stats');
      const histogram = new Histogram();
      histogram.add(result.histogram);
      const seconds = result.elapsedMs / 1000;
      // The echo's server CPU includes the warm-up: report it per round trip over the whole run.
      return {
        ...base,
        throughput: result.roundTrips / seconds,
        p50Ms: histogram.quantile(0.5) / 1000,
        p99Ms: histogram.quantile(0.99) / 1000,
        serverCpuPct: NaN,
        cpuPerDeliveryMicros: NaN,
        rssMb: after.rss / 2 ** 20,
        requestsPerSec: (after.requests - before.requests) / seconds,
        loadCpuPct: (result.loadCpuMicros / 1e4 / seconds) * 1,
        deliveryRatio: NaN,
      };
    }
    if (scenario === 'idle') {
      await request(server, 'gc');
      await sleep(200);
      const before = await request<ServerStats>(server, 'stats');
      const connected = await request<{
        connected: number;
        failed: number;
        elapsedMs: number;
        firstError?: string;
      }>(load, 'connect', { system, url, count: subscribers, concurrency: 100, mode });
      if (connected.failed > 0)
        console.error(`  ${system}: ${connected.failed} connections failed (${connected.firstError})`);
      await sleep(2000);
      await request(server, 'gc');
      await sleep(200);
      const after = await request<ServerStats>(server, 'stats');
      return {
        ...base,
        throughput: connected.connected / (connected.elapsedMs / 1000),
        p50Ms: NaN,
        p99Ms: NaN,
        serverCpuPct: NaN,
        cpuPerDeliveryMicros: NaN,
        rssMb: after.rss / 2 ** 20,
        requestsPerSec: NaN,
        loadCpuPct: NaN,
        deliveryRatio: connected.connected / subscribers,
        bytesPerConnection: (after.rss - before.rss) / connected.connected,
        heapPerConnection: (after.heapUsed - before.heapUsed) / connected.connected,
      };
    }
    const connected = await request<{ connected: number; failed: number; firstError?: string }>(
      load,
      'connect',
      {
        system,
        url,
        count: subscribers,
        concurrency: 50,
        mode,
      },
    );
    if (connected.failed > 0)
      throw new Error(`${connected.failed} receivers failed: ${connected.firstError}`);
    await request(load, 'publisher', { system, url });
    const perPublish = system.startsWith('faye-') ? subscribers + 1 : subscribers;
    await request(load, 'start', {
      rate,
      payloadSize,
      receiversPerPublish: perPublish,
      window: Number(values.window),
    });
    await sleep(warmupMs);
    const [before] = await Promise.all([request<ServerStats>(server, 'stats'), request(load, 'mark')]);
    await sleep(durationMs);
    const [after, report] = await Promise.all([
      request<ServerStats>(server, 'stats'),
      request<LoadReport>(load, 'report'),
    ]);
    await request(load, 'stop');
    const histogram = new Histogram();
    histogram.add(report.histogram);
    const seconds = report.elapsedMs / 1000;
    const cpu = after.cpuMicros - before.cpuMicros;
    return {
      ...base,
      throughput: report.deliveries / seconds,
      p50Ms: histogram.quantile(0.5) / 1000,
      p99Ms: histogram.quantile(0.99) / 1000,
      serverCpuPct: cpu / 1e4 / seconds,
      cpuPerDeliveryMicros: cpu / report.deliveries,
      rssMb: after.rss / 2 ** 20,
      requestsPerSec: (after.requests - before.requests) / seconds,
      loadCpuPct: report.loadCpuMicros / 1e4 / seconds,
      deliveryRatio: report.deliveries / (report.published * perPublish),
    };
  } finally {
    clearTimeout(deadline);
    await Promise.allSettled([request(load, 'close', {}, 5000), request(server, 'stop', {}, 5000)]);
    await Promise.all([exited(load), exited(server)]);
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function version(pkg: string): string {
  if (pkg === 'node') return process.version.slice(1);
  if (pkg === 'redis-server') return redisVersion();
  const path =
    pkg === 'switchboard' ? join(root, 'package.json') : join(root, 'node_modules', pkg, 'package.json');
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

function machine(): string {
  const cpu = cpus();
  const pinning =
    scenario === 'cluster'
      ? ', nodes and redis-server pinned to core 0 (the nodes and Redis share one core), load to core 1'
      : ', server pinned to core 0, load to core 1';
  return `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, Node ${process.version}${pin ? pinning : ', not pinned'}`;
}

const cluster = {
  launch: (script: string, args: string[], core: number) =>
    launch(script, args, core, script === 'load-process.js' ? [] : profile),
  ready,
  exited,
  pin,
  warmupMs,
  durationMs,
  payloadSize,
  window: Number(values.window),
};

const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`;
/** The code measured: the commit, marked dirty when the tree had uncommitted changes. */
const revision = (() => {
  const described = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: root, encoding: 'utf8' });
  return described.status === 0 ? described.stdout.trim() : 'unknown';
})();
console.log(`# ${command}\n# ${machine()}\n# code: ${revision}`);
const rows: Row[] = [];
for (const subscribers of subscriberCounts) {
  for (const rate of rates) {
    for (let repeat = 1; repeat <= repeats; repeat++) {
      for (const system of systems) {
        try {
          const { row, notes } =
            scenario === 'cluster' && isClusterConfig(system)
              ? await runClusterOnce(cluster, system, subscribers, rate)
              : { row: await runOnce(system, subscribers, rate), notes: [] };
          rows.push(row);
          const extra =
            scenario === 'cluster'
              ? ` (Redis ${row.redisCpuPct?.toFixed(1)} % CPU) script calls/delivery ${row.scriptCallsPerDelivery?.toPrecision(3)} Redis commands/delivery ${row.redisCommandsPerDelivery?.toPrecision(3)} missing ${row.missing} out of order ${row.outOfOrder}`
              : '';
          console.log(
            `  ${scenario} ${system} n=${subscribers} rate=${rate || 'max'} #${repeat}: ${row.throughput.toFixed(0)}/s p50 ${row.p50Ms.toFixed(2)} ms p99 ${row.p99Ms.toFixed(2)} ms cpu/delivery ${row.cpuPerDeliveryMicros.toFixed(1)} µs${extra}`,
          );
          for (const note of notes) console.log(`    ${note}`);
        } catch (error) {
          console.error(
            `  ${scenario} ${system} #${repeat} failed: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    }
  }
}

const summaries: Summary[] = summarize(rows);
console.log('\n' + formatTable(scenario, summaries));
const packages =
  scenario === 'cluster'
    ? ['switchboard', '@redis/client', 'redis-server']
    : [...new Set(systems.map((name) => systemNamed(name).pkg))];
const versions = Object.fromEntries(packages.map((pkg) => [pkg, version(pkg)]));
console.log(
  `\nversions: ${Object.entries(versions)
    .map(([p, v]) => `${p}@${v}`)
    .join(', ')}`,
);

if (values.record) {
  const name = values.record;
  const results = join(root, 'bench', 'results', `${name}.json`);
  mkdirSync(dirname(results), { recursive: true });
  writeFileSync(
    results,
    JSON.stringify(
      { command, revision, machine: machine(), versions, date: new Date().toISOString(), rows, summaries },
      null,
      2,
    ) + '\n',
  );
  const chart = join(root, 'docs', 'benchmarks', `${name}.svg`);
  mkdirSync(dirname(chart), { recursive: true });
  writeFileSync(
    chart,
    renderChart(`${scenario}: ${command.replace('npm run bench -- ', '')}`, scenario, summaries),
  );
  console.log(`recorded ${results} and ${chart}`);
}
