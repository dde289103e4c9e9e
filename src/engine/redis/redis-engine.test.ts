import { after, before } from 'node:test';
import { runEngineContract } from '../../../test/contract/engine.contract.js';
import { startRedis, type RedisProcess } from '../../../test/helpers/redis.js';
import { RedisEngine } from './redis-engine.js';

let redis: RedisProcess | undefined;
let prefixes = 0;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

// A fresh key prefix per engine: each contract test sees an empty Redis of its own.
runEngineContract('redis', () => {
  if (!redis) throw new Error('redis-server did not start');
  return new RedisEngine({ url: redis.url, prefix: `contract${++prefixes}:` });
});
