// Mutation testing (Stryker): `npm run test:mutation [-- core|engine|protocols|client]`.
// Stryker mutates the TypeScript sources in a sandbox, compiles them with the project's own build
// and runs the compiled node:test files through its TAP runner, one process per file. Per-file
// coverage means a mutant runs only the test files that execute it, fastest first, stopping at the
// first failure. See docs/testing.md for the scores and how to read a survivor.
import { readdirSync } from 'node:fs';

const scopes = {
  core: ['src/core/**/*.ts'],
  engine: ['src/engine/**/*.ts'],
  protocols: ['src/protocols/**/*.ts'],
  client: ['src/client/**/*.ts'],
};
const scope = process.env.MUTATION_SCOPE ?? 'all';
const selected = scope === 'all' ? Object.values(scopes).flat() : scopes[scope];
if (!selected)
  throw new Error(`unknown MUTATION_SCOPE "${scope}"; use all, ${Object.keys(scopes).join(', ')}`);

function integrationTests() {
  const left = new Set(['bench-smoke.test.ts', 'cluster.test.ts']);
  return readdirSync('test/integration')
    .filter((name) => name.endsWith('.test.ts') && !left.has(name))
    .map((name) => `dist/test/integration/${name.replace(/\.ts$/, '.js')}`);
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [...selected, '!src/**/*.test.ts'],
  testRunner: 'tap',
  tap: {
    // Unit, contract and integration tests. Left out: the browser tests (Chromium loads the
    // esbuild bundle, which Stryker does not switch), the fuzz tests (time-budgeted, so their
    // reach varies per run), the benchmark smoke test and the multi-process cluster test.
    // (The runner's globs take no negations, so the integration files are listed.)
    testFiles: ['dist/src/**/*.test.js', 'dist/test/unit/**/*.test.js', ...integrationTests()],
    forceBail: true,
    // A file that hangs fails after 30 s instead of waiting for Stryker's timeout.
    nodeArgs: ['--import', './dist/test/helpers/mutation-watchdog.js'],
  },
  buildCommand: 'npm run build --silent',
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.mutation.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  concurrency: 4,
  timeoutMS: 5000,
  timeoutFactor: 1.5,
  incremental: true,
  incrementalFile: `reports/mutation/${scope}.incremental.json`,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: `reports/mutation/${scope}.json` },
  htmlReporter: { fileName: `reports/mutation/${scope}.html` },
  thresholds: { high: 90, low: 80, break: null },
  // One sandbox folder per scope: two folders can be run at once.
  tempDirName: `.stryker-tmp-${scope}`,
  cleanTempDir: 'always',
};
