// Mutation testing: `npm run test:mutation [-- <core|engine|protocols|client|all>] [--summary] [--survivors] [stryker options]`.
// Runs Stryker (stryker.config.mjs) on one folder or all four, then prints the score per folder
// from the folder's results (reports/mutation/<scope>.incremental.json). Incremental: a run
// reuses the results of mutants whose code and covering tests did not change since the last run
// of the same scope. `--summary` prints the scores without running anything; `--survivors` also
// lists every survivor (file:line, the mutator, the code and what it became). Other options go to
// Stryker, e.g. `-- core --mutate src/core/json.ts` to retest one file into the folder's results.
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const summaryOnly = args.includes('--summary');
const listSurvivors = args.includes('--survivors');
const scope = isScope(args[0]) ? args[0] : 'all';
const strykerArgs = args
  .slice(scope === args[0] ? 1 : 0)
  .filter((arg) => arg !== '--summary' && arg !== '--survivors');
function isScope(arg) {
  return ['all', 'core', 'engine', 'protocols', 'client'].includes(arg);
}

if (!summaryOnly) {
  const run = spawnSync('npx', ['stryker', 'run', ...strykerArgs], {
    stdio: 'inherit',
    env: { ...process.env, MUTATION_SCOPE: scope },
  });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

// The incremental file holds the latest result of every mutant of the folder, also after a run
// of one file (`--mutate`), whose own report holds that file only. It is committed, so a fresh
// clone has the scores too.
const reportFile = `reports/mutation/${scope}.incremental.json`;
if (!existsSync(reportFile)) {
  console.error(`no results at ${reportFile}: run "npm run test:mutation -- ${scope}" first`);
  process.exit(1);
}
const report = JSON.parse(readFileSync(reportFile, 'utf8'));

// Stryker's score: detected (killed or timed out) over valid mutants (detected, survived, no
// coverage). Mutants that do not compile (CompileError) or that Stryker ignores do not count.
const DETECTED = new Set(['Killed', 'Timeout']);
const folders = new Map();
for (const [file, { mutants }] of Object.entries(report.files)) {
  const folder = file.split('/').slice(0, 2).join('/');
  const tally = folders.get(folder) ?? { detected: 0, survived: 0, noCoverage: 0 };
  for (const { status } of mutants) {
    if (DETECTED.has(status)) tally.detected++;
    else if (status === 'Survived') tally.survived++;
    else if (status === 'NoCoverage') tally.noCoverage++;
  }
  folders.set(folder, tally);
}

console.log('\nfolder          score   detected  survived  no coverage');
let failing = false;
for (const [folder, t] of [...folders].sort()) {
  const valid = t.detected + t.survived + t.noCoverage;
  const score = valid === 0 ? 100 : (100 * t.detected) / valid;
  if (score < 80) failing = true;
  console.log(
    `${folder.padEnd(15)} ${score.toFixed(1).padStart(5)} % ${String(t.detected).padStart(9)} ${String(t.survived).padStart(9)} ${String(t.noCoverage).padStart(12)}`,
  );
}
if (listSurvivors) {
  console.log('');
  for (const [file, { source, mutants }] of Object.entries(report.files).sort()) {
    const lines = source.split('\n');
    for (const m of mutants.sort((a, b) => a.location.start.line - b.location.start.line)) {
      if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
      const { start, end } = m.location;
      const original =
        start.line === end.line
          ? lines[start.line - 1].slice(start.column - 1, end.column - 1)
          : `${lines[start.line - 1].slice(start.column - 1)}…`;
      const shown = (text) => JSON.stringify(text.length > 70 ? `${text.slice(0, 70)}…` : text);
      const tag = m.status === 'NoCoverage' ? ' (no coverage)' : '';
      console.log(
        `${file}:${start.line} ${m.mutatorName}${tag}: ${shown(original)} → ${shown(m.replacement ?? '')}`,
      );
    }
  }
}
console.log(`\nthe survivors, line by line: reports/mutation/${scope}.html`);
if (failing) console.log('a folder is under the 80 % floor (docs/testing.md)');
