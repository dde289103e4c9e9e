/**
 * Loaded before each test file in mutation runs only (stryker.config.mjs, `tap.nodeArgs`). A
 * mutant that stops a reply from coming makes a test wait forever, and Stryker would wait for
 * it up to its own timeout (1.5 × the covering files' time + 5 s, often a minute). Past
 * SWITCHBOARD_FILE_TIMEOUT_MS (default 30 s; a file takes at most a few seconds) this writes a
 * failing TAP test point and exits: the hang counts as what it is, a test that failed.
 */
const limitMs = Number(process.env.SWITCHBOARD_FILE_TIMEOUT_MS ?? 30_000);

setTimeout(() => {
  process.stdout.write(`\nnot ok 9999 - the test file was still running after ${limitMs} ms (a hang)\n`);
  process.exit(1);
}, limitMs).unref();
