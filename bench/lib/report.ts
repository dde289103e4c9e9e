/** Rows of single runs, their medians with min–max, and the tables the harness prints. */

export interface Row {
  readonly scenario: string;
  readonly system: string;
  readonly subscribers: number;
  /** Offered publishes/s; 0 means as fast as deliveries return. */
  readonly rate: number;
  /** Deliveries/s (fanout, longpoll), round trips/s (echo) or connections/s (idle). */
  readonly throughput: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly serverCpuPct: number;
  readonly cpuPerDeliveryMicros: number;
  readonly rssMb: number;
  readonly requestsPerSec: number;
  readonly loadCpuPct: number;
  /** Deliveries over what was published × receivers in the window (lags and losses show here). */
  readonly deliveryRatio: number;
  readonly bytesPerConnection?: number;
  readonly heapPerConnection?: number;
  /** cluster: redis-server's share of `serverCpuPct` (which sums the nodes and Redis). */
  readonly redisCpuPct?: number;
  /** cluster: commands the nodes sent to Redis (a script call is one) ÷ deliveries. */
  readonly scriptCallsPerDelivery?: number;
  /** cluster: every command Redis ran (INFO commandstats, script internals included) ÷ deliveries. */
  readonly redisCommandsPerDelivery?: number;
  /** cluster: publishes × receivers not delivered once the publisher stopped and the queues drained. */
  readonly missing?: number;
  /** cluster: deliveries that were not their receiver's next sequence number (gaps, duplicates). */
  readonly outOfOrder?: number;
}

export const METRICS = [
  'throughput',
  'p50Ms',
  'p99Ms',
  'serverCpuPct',
  'cpuPerDeliveryMicros',
  'rssMb',
  'requestsPerSec',
  'loadCpuPct',
  'deliveryRatio',
  'bytesPerConnection',
  'heapPerConnection',
  'redisCpuPct',
  'scriptCallsPerDelivery',
  'redisCommandsPerDelivery',
  'missing',
  'outOfOrder',
] as const;
export type Metric = (typeof METRICS)[number];

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface Summary {
  readonly scenario: string;
  readonly system: string;
  readonly subscribers: number;
  readonly rate: number;
  readonly runs: number;
  readonly metrics: Readonly<Partial<Record<Metric, Spread>>>;
}

function spread(values: number[]): Spread | undefined {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
  return { median, min: sorted[0] ?? NaN, max: sorted[sorted.length - 1] ?? NaN };
}

export function summarize(rows: readonly Row[]): Summary[] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.subscribers}|${row.rate}|${row.system}`;
    const group = groups.get(key) ?? [];
    group.push(row);
    groups.set(key, group);
  }
  return [...groups.values()].map((group) => {
    const first = group[0] as Row;
    const metrics: Partial<Record<Metric, Spread>> = {};
    for (const metric of METRICS) {
      const s = spread(group.map((row) => row[metric] ?? NaN));
      if (s) metrics[metric] = s;
    }
    return {
      scenario: first.scenario,
      system: first.system,
      subscribers: first.subscribers,
      rate: first.rate,
      runs: group.length,
      metrics,
    };
  });
}

function number(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Three significant digits below 1 too, for ratios such as 0.0513 calls per delivery. */
const precise = (value: number): string =>
  Math.abs(value) > 0 && Math.abs(value) < 1 ? value.toPrecision(3) : number(value);

/** Counts (deliveries missing): whole numbers. */
const count = (value: number): string => Math.round(value).toLocaleString('en-US');

function cell(summary: Summary, metric: Metric, scale = 1, format = number): string {
  const s = summary.metrics[metric];
  if (!s) return '–';
  const n = (v: number) => format(v * scale);
  if (summary.runs === 1 || s.min === s.max) return n(s.median);
  return `${n(s.median)} (${n(s.min)}–${n(s.max)})`;
}

export const rateLabel = (rate: number): string => (rate === 0 ? 'max' : `${rate}/s`);

type Column = readonly [header: string, value: (s: Summary) => string];

function columns(scenario: string): Column[] {
  if (scenario === 'idle')
    return [
      ['system', (s) => s.system],
      ['connections', (s) => String(s.subscribers)],
      ['connects/s', (s) => cell(s, 'throughput')],
      ['RSS KiB/connection', (s) => cell(s, 'bytesPerConnection', 1 / 1024)],
      ['heap KiB/connection', (s) => cell(s, 'heapPerConnection', 1 / 1024)],
      ['server RSS MiB', (s) => cell(s, 'rssMb')],
      ['connected', (s) => cell(s, 'deliveryRatio', 100) + '%'],
    ];
  if (scenario === 'cluster')
    return [
      ['configuration', (s) => s.system],
      ['receivers', (s) => String(s.subscribers)],
      ['offered', (s) => rateLabel(s.rate)],
      ['delivered/s', (s) => cell(s, 'throughput')],
      ['p50 ms', (s) => cell(s, 'p50Ms')],
      ['p99 ms', (s) => cell(s, 'p99Ms')],
      ['server CPU µs/delivery (nodes + Redis)', (s) => cell(s, 'cpuPerDeliveryMicros')],
      ['server CPU % (nodes + Redis)', (s) => cell(s, 'serverCpuPct')],
      ['of which Redis CPU %', (s) => cell(s, 'redisCpuPct')],
      ['RSS MiB (nodes + Redis)', (s) => cell(s, 'rssMb')],
      ['script calls/delivery', (s) => cell(s, 'scriptCallsPerDelivery', 1, precise)],
      ['Redis commands/delivery', (s) => cell(s, 'redisCommandsPerDelivery', 1, precise)],
      ['load CPU %', (s) => cell(s, 'loadCpuPct')],
      ['delivered %', (s) => cell(s, 'deliveryRatio', 100)],
      ['missing after drain', (s) => cell(s, 'missing', 1, count)],
      ['out of order', (s) => cell(s, 'outOfOrder', 1, count)],
    ];
  if (scenario === 'echo')
    return [
      ['system', (s) => s.system],
      ['round trips/s', (s) => cell(s, 'throughput')],
      ['p50 ms', (s) => cell(s, 'p50Ms')],
      ['p99 ms', (s) => cell(s, 'p99Ms')],
      ['HTTP req/s', (s) => cell(s, 'requestsPerSec')],
      ['load CPU %', (s) => cell(s, 'loadCpuPct')],
    ];
  return [
    ['system', (s) => s.system],
    ['receivers', (s) => String(s.subscribers)],
    ['offered', (s) => rateLabel(s.rate)],
    ['delivered/s', (s) => cell(s, 'throughput')],
    ['p50 ms', (s) => cell(s, 'p50Ms')],
    ['p99 ms', (s) => cell(s, 'p99Ms')],
    ['server CPU µs/delivery', (s) => cell(s, 'cpuPerDeliveryMicros')],
    ['server CPU %', (s) => cell(s, 'serverCpuPct')],
    ['server RSS MiB', (s) => cell(s, 'rssMb')],
    ['HTTP req/s', (s) => cell(s, 'requestsPerSec')],
    ['load CPU %', (s) => cell(s, 'loadCpuPct')],
    ['delivered %', (s) => cell(s, 'deliveryRatio', 100)],
  ];
}

/** A Markdown table: each cell is the median of the runs with (min–max). */
export function formatTable(scenario: string, summaries: readonly Summary[]): string {
  const cols = columns(scenario);
  const lines = [
    `| ${cols.map(([h]) => h).join(' | ')} |`,
    `| ${cols.map(([h], i) => (i === 0 || h === 'offered' ? '---' : '---:')).join(' | ')} |`,
  ];
  for (const summary of summaries) lines.push(`| ${cols.map(([, value]) => value(summary)).join(' | ')} |`);
  return lines.join('\n');
}
