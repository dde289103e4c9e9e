// Builds the browser ESM bundle of the client SDK, served by the server at /switchboard.js.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/client/index.ts'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  sourcemap: false,
  minify: false,
  outfile: 'public/switchboard.js',
  logLevel: 'warning',
});
