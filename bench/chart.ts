/**
 * Re-renders a recorded chart from its results: node dist/bench/chart.js <name>
 * (reads bench/results/<name>.json, writes docs/benchmarks/<name>.svg).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderChart } from './lib/chart.js';
import type { Summary } from './lib/report.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const name = process.argv[2];
if (!name) {
  console.error('usage: node dist/bench/chart.js <name>');
  process.exit(2);
}
const results = JSON.parse(readFileSync(join(root, 'bench', 'results', `${name}.json`), 'utf8')) as {
  command: string;
  summaries: Summary[];
};
const scenario = results.summaries[0]?.scenario ?? name;
const title = `${scenario}: ${results.command.replace('npm run bench -- ', '')}`;
writeFileSync(
  join(root, 'docs', 'benchmarks', `${name}.svg`),
  renderChart(title, scenario, results.summaries),
);
console.log(`wrote docs/benchmarks/${name}.svg`);
