/**
 * The `cluster` scenario (issue 7): one publisher, N bare WebSocket receivers (`switchboard-ws`)
 * spread evenly over the nodes, the publish entering through node 1. Three configurations:
 * `memory-1node` (the baseline), `redis-1node` (what Redis itself costs) and `redis-2nodes` (what
 * splitting the receivers over two nodes costs on top). Each run starts its own redis-server on a
 * free port (no persistence) and its own nodes, and stops them by PID.
 *
 * Server CPU is the nodes' (`process.cpuUsage`, as in the other scenarios) plus redis-server's
 * (utime + stime of /proc/<pid>/stat, all its threads). Redis traffic per delivery is counted
 * twice: the commands the nodes sent (`engine.calls`, one per script call) and every command
 * Redis ran, script internals included (INFO commandstats, reset by CONFIG RESETSTAT at the mark).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startRedis, type RedisProcess } from '../test/helpers/redis.js';
import { request, type LoadReport } from './lib/ipc.js';
import { Histogram } from './lib/histogram.js';
import type { Row } from './lib/report.js';

export const CLUSTER_CONFIGS = ['memory-1node', 'redis-1node', 'redis-2nodes'] as const;
export type ClusterConfig = (typeof CLUSTER_CONFIGS)[number];

export const isClusterConfig = (name: string): name is ClusterConfig =>
  CLUSTER_CONFIGS.some((c) => c === name);

/** What the harness (bench/run.ts) lends the scenario. */
export interface ClusterHarness {
  launch(script: string, args: string[], core: number): ChildProcess;
  ready<T>(child: ChildProcess): Promise<T>;
  exited(child: ChildProcess): Promise<void>;
  readonly pin: boolean;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly payloadSize: number;
  readonly window: number;
}

interface NodeStats {
  cpuMicros: number;
  rss: number;
  engineCalls: number;
  warnings: number;
  firstWarning?: string;
}

interface Drained {
  published: number;
  expected: number;
  delivered: number;
  missing: number;
  outOfOrder: number;
}

const SYSTEM = 'switchboard-ws';
const DRAIN_TIMEOUT_MS = 30_000;
/** Per receiver: connected, hello answered and the subscribe acked. */
const CONNECT_TIMEOUT_MS = 20_000;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU time of a whole process (every thread), from /proc/<pid>/stat. */
function procCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1e6;
}

function procRssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

/** Commands Redis ran since the last CONFIG RESETSTAT, by name, without our own INFO and CONFIG. */
async function commandStats(redis: RedisProcess): Promise<Map<string, number>> {
  const info = await redis.command('INFO', 'commandstats');
  const calls = new Map<string, number>();
  for (const [, name = '', n] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (name === 'info' || name.startsWith('config|')) continue;
    calls.set(name, Number(n));
  }
  return calls;
}

export function redisVersion(): string {
  const out = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /v=(\S+)/.exec(out)?.[1] ?? 'unknown';
}

/**
 * One run of one configuration: a fresh Redis (when used), fresh nodes and a fresh load process.
 * `notes`: lines for the log (the commands Redis ran, per delivery).
 */
export async function runClusterOnce(
  harness: ClusterHarness,
  config: ClusterConfig,
  subscribers: number,
  rate: number,
): Promise<{ row: Row; notes: string[] }> {
  const redis = config === 'memory-1node' ? undefined : await startRedis();
  if (redis && harness.pin) {
    // The nodes and Redis share core 0; -a pins every thread redis-server has started.
    const pinned = spawnSync('taskset', ['-a', '-p', '-c', '0', String(redis.pid)], { stdio: 'ignore' });
    if (pinned.status !== 0) console.error(`  could not pin redis-server (pid ${redis.pid}) to core 0`);
  }
  const nodeCount = config === 'redis-2nodes' ? 2 : 1;
  const nodes = Array.from({ length: nodeCount }, () =>
    harness.launch('cluster-node-process.js', [redis?.url ?? 'memory'], 0),
  );
  const load = harness.launch('load-process.js', [], harness.pin ? 1 : 0);
  const children = [...nodes, load];
  // A hard bound on the whole run, whatever happens inside it.
  const deadline = setTimeout(
    () => {
      for (const child of children) child.kill('SIGKILL');
      void redis?.kill();
    },
    harness.warmupMs + harness.durationMs + DRAIN_TIMEOUT_MS + 180_000,
  );
  try {
    const ports = await Promise.all(nodes.map((node) => harness.ready<{ port: number }>(node)));
    await harness.ready(load);
    const urls = ports.map(({ port }) => `http://127.0.0.1:${port}`);
    // Receivers spread evenly, node by node; each one checks it gets every publish once, in order.
    for (const [i, url] of urls.entries()) {
      const count = Math.floor(subscribers / urls.length) + (i < subscribers % urls.length ? 1 : 0);
      const connected = await request<{ failed: number; firstError?: string }>(load, 'connect', {
        system: SYSTEM,
        url,
        count,
        concurrency: 50,
        mode: 'broadcast',
        track: true,
        timeoutMs: CONNECT_TIMEOUT_MS,
      });
      if (connected.failed > 0)
        throw new Error(`${connected.failed} receivers failed on node ${i + 1}: ${connected.firstError}`);
    }
    await request(load, 'publisher', { system: SYSTEM, url: urls[0] });
    await request(load, 'start', {
      rate,
      payloadSize: harness.payloadSize,
      receiversPerPublish: subscribers,
      window: harness.window,
    });
    await sleep(harness.warmupMs);

    const nodeStats = () => Promise.all(nodes.map((node) => request<NodeStats>(node, 'stats')));
    const redisCpu = () => (redis ? procCpuMicros(redis.pid) : 0);
    // The three processes' figures are taken together: sent at once, Redis read in between.
    const beforePending = Promise.all([
      nodeStats(),
      redis?.command('CONFIG', 'RESETSTAT') ?? '',
      request(load, 'mark'),
    ]);
    const redisBefore = redisCpu();
    const [before] = await beforePending;
    await sleep(harness.durationMs);
    const afterPending = Promise.all([
      nodeStats(),
      redis ? commandStats(redis) : Promise.resolve(new Map<string, number>()),
      request<LoadReport>(load, 'report'),
    ]);
    const redisAfter = redisCpu();
    const redisRss = redis ? procRssBytes(redis.pid) : 0;
    const [after, commands, report] = await afterPending;
    await request(load, 'stop');
    const drained = await request<Drained>(load, 'drain', {
      receiversPerPublish: subscribers,
      timeoutMs: DRAIN_TIMEOUT_MS,
    });

    for (const [i, stats] of after.entries()) {
      if (stats.warnings > 0)
        console.error(`  node ${i + 1}: ${stats.warnings} warnings, first: ${stats.firstWarning}`);
    }
    if (drained.missing !== 0 || drained.outOfOrder !== 0)
      console.error(
        `  ${config}: ${drained.missing} of ${drained.expected} deliveries missing after draining ${DRAIN_TIMEOUT_MS / 1000} s at most, ${drained.outOfOrder} out of order`,
      );

    const histogram = new Histogram();
    histogram.add(report.histogram);
    const seconds = report.elapsedMs / 1000;
    const nodesCpu = after.reduce((sum, s, i) => sum + s.cpuMicros - (before[i]?.cpuMicros ?? 0), 0);
    const redisCpuMicros = redisAfter - redisBefore;
    const cpu = nodesCpu + redisCpuMicros;
    const calls = after.reduce((sum, s, i) => sum + s.engineCalls - (before[i]?.engineCalls ?? 0), 0);
    const redisCommands = [...commands.values()].reduce((a, b) => a + b, 0);
    const notes: string[] = [];
    if (redis) {
      const top = [...commands]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10)
        .map(([name, n]) => `${name} ${(n / report.deliveries).toPrecision(3)}`)
        .join(', ');
      notes.push(`Redis commands per delivery: ${top}`);
      notes.push(
        `CPU µs per delivery: nodes ${(nodesCpu / report.deliveries).toFixed(2)}, redis-server ${(redisCpuMicros / report.deliveries).toFixed(2)}`,
      );
    }
    const row: Row = {
      scenario: 'cluster',
      system: config,
      subscribers,
      rate,
      throughput: report.deliveries / seconds,
      p50Ms: histogram.quantile(0.5) / 1000,
      p99Ms: histogram.quantile(0.99) / 1000,
      serverCpuPct: cpu / 1e4 / seconds,
      cpuPerDeliveryMicros: cpu / report.deliveries,
      rssMb: (after.reduce((sum, s) => sum + s.rss, 0) + redisRss) / 2 ** 20,
      requestsPerSec: NaN,
      loadCpuPct: report.loadCpuMicros / 1e4 / seconds,
      deliveryRatio: report.deliveries / (report.published * subscribers),
      redisCpuPct: redis ? redisCpuMicros / 1e4 / seconds : NaN,
      scriptCallsPerDelivery: redis ? calls / report.deliveries : NaN,
      redisCommandsPerDelivery: redis ? redisCommands / report.deliveries : NaN,
      missing: drained.missing,
      outOfOrder: drained.outOfOrder,
    };
    return { row, notes };
  } finally {
    clearTimeout(deadline);
    await Promise.allSettled([
      request(load, 'close', {}, 5000),
      ...nodes.map((node) => request(node, 'stop', {}, 5000)),
    ]);
    await Promise.all(children.map((child) => harness.exited(child)));
    await redis?.stop();
  }
}
