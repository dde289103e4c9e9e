/**
 * A dependency-free SVG bar chart of a run's medians with min–max whiskers: one panel per metric,
 * one group of bars per configuration (receivers × offered rate), one bar per system.
 */
import { rateLabel, type Metric, type Summary } from './report.js';

interface Panel {
  readonly metric: Metric;
  readonly title: string;
  readonly scale: number;
}

function panels(scenario: string): Panel[] {
  if (scenario === 'idle')
    return [
      {
        metric: 'bytesPerConnection',
        title: 'server RSS KiB per connection (lower is better)',
        scale: 1 / 1024,
      },
      { metric: 'throughput', title: 'connects/s (higher is better)', scale: 1 },
    ];
  if (scenario === 'echo')
    return [
      { metric: 'throughput', title: 'round trips/s (higher is better)', scale: 1 },
      { metric: 'p99Ms', title: 'p99 round trip ms (lower is better)', scale: 1 },
    ];
  return [
    { metric: 'cpuPerDeliveryMicros', title: 'server CPU µs per delivery (lower is better)', scale: 1 },
    { metric: 'throughput', title: 'delivered messages/s (higher is better)', scale: 1 },
    { metric: 'p99Ms', title: 'p99 publish→receive ms (lower is better)', scale: 1 },
  ];
}

const COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
];
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) =>
  v >= 100 ? Math.round(v).toLocaleString('en-US') : v >= 10 ? v.toFixed(1) : v.toFixed(2);

export function renderChart(title: string, scenario: string, summaries: readonly Summary[]): string {
  const systems = [...new Set(summaries.map((s) => s.system))];
  const configs = [...new Set(summaries.map((s) => `${s.subscribers}|${s.rate}`))];
  const list = panels(scenario);
  const bar = 16;
  const groupGap = 22;
  const label = 170;
  const panelWidth = 330;
  const top = 56;
  const groupHeight = systems.length * bar + groupGap;
  const height = top + configs.length * groupHeight + 40;
  const width = label + list.length * (panelWidth + 20) + 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${escape(title)}</text>`,
  ];
  list.forEach((panel, p) => {
    const x0 = label + p * (panelWidth + 20);
    // Each configuration gets its own scale: a 20/s group and a max group differ by 100×.
    const maxOf = (config: string) =>
      Math.max(
        ...summaries
          .filter((s) => `${s.subscribers}|${s.rate}` === config)
          .map((s) => (s.metrics[panel.metric]?.max ?? 0) * panel.scale)
          .filter(Number.isFinite),
        1e-9,
      );
    out.push(`<text x="${x0}" y="${top - 12}" font-weight="bold">${escape(panel.title)}</text>`);
    configs.forEach((config, g) => {
      const [subscribers, rate] = config.split('|').map(Number) as [number, number];
      const y0 = top + g * groupHeight;
      const max = maxOf(config);
      if (p === 0) {
        const name =
          scenario === 'idle' ? `${subscribers} connections` : `${subscribers} receivers, ${rateLabel(rate)}`;
        out.push(`<text x="10" y="${y0 + 10}" font-weight="bold">${escape(name)}</text>`);
      }
      systems.forEach((system, i) => {
        const s = summaries.find((x) => x.system === system && `${x.subscribers}|${x.rate}` === config);
        const spread = s?.metrics[panel.metric];
        const y = y0 + i * bar + 14;
        if (p === 0) out.push(`<text x="18" y="${y + 11}">${escape(system)}</text>`);
        if (!spread) return;
        const w = (v: number) => ((v * panel.scale) / max) * (panelWidth - 70);
        const color = COLORS[systems.indexOf(system) % COLORS.length] ?? '#333';
        out.push(
          `<rect x="${x0}" y="${y + 2}" width="${w(spread.median).toFixed(1)}" height="${bar - 4}" fill="${color}"/>`,
        );
        out.push(
          `<line x1="${(x0 + w(spread.min)).toFixed(1)}" x2="${(x0 + w(spread.max)).toFixed(1)}" y1="${y + bar / 2}" y2="${y + bar / 2}" stroke="black"/>`,
        );
        out.push(
          `<text x="${(x0 + w(spread.max) + 4).toFixed(1)}" y="${y + 11}">${fmt(spread.median * panel.scale)}</text>`,
        );
      });
    });
  });
  out.push(
    `<text x="10" y="${height - 12}" fill="#555">bars: median of runs; whiskers: min–max; each group has its own scale</text>`,
    '</svg>',
  );
  return out.join('\n') + '\n';
}
