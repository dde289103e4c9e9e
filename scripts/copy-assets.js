// Copies the non-TypeScript files the compiled code reads at run time into dist/ (tsc does not):
// the Redis engine's Lua script.
import { copyFileSync, mkdirSync } from 'node:fs';

const assets = [['src/engine/redis/engine.lua', 'dist/src/engine/redis/engine.lua']];
for (const [from, to] of assets) {
  mkdirSync(to.slice(0, to.lastIndexOf('/')), { recursive: true });
  copyFileSync(from, to);
}
