// Runs the compiled tests with node's own test runner. Node 20 has no glob support in
// `node --test`, so the files are found here. Usage: node scripts/run-tests.js <all|unit|integration|browser|fuzz>
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const kind = process.argv[2] ?? 'all';
const roots = {
  unit: ['dist/src', 'dist/test/contract', 'dist/test/unit'],
  integration: ['dist/test/integration'],
  browser: ['dist/test/browser'],
  // Bounded fuzzing (fast-check): each property stops at a fixed number of runs or its time budget.
  fuzz: ['dist/test/fuzz'],
};
const selected = kind === 'all' ? Object.values(roots).flat() : roots[kind];
if (!selected) {
  console.error(`unknown test kind "${kind}"; use all, unit, integration, browser or fuzz`);
  process.exit(2);
}

function walk(dir, out) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

const files = selected.flatMap((dir) => walk(dir, [])).sort();
if (files.length === 0) {
  console.error(`no test files under ${selected.join(', ')}; run "npm run build" first`);
  process.exit(1);
}
// A test still running after two minutes has hung (the slowest takes seconds): it fails, with
// its name, instead of holding the run until CI's limit.
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=120000', ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);
