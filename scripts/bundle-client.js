// Builds the browser ESM bundle of the client SDK, served by the server at /switchboard.js:
// minified, with its source map beside it (/switchboard.js.map) for the browser's devtools.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/client/index.ts'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  sourcemap: true,
  minify: true,
  outfile: 'public/switchboard.js',
  logLevel: 'warning',
});
