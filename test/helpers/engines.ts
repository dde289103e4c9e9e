/**
 * Runs one test against both engines: the memory engine, and the Redis engine on a real
 * redis-server (./redis.ts) started on first use, one per test file, each test on a key prefix of
 * its own. Stop it in the file's `after`: `after(() => engines.stop())`.
 */
import type { Engine } from '../../src/engine/engine.js';
import { RedisEngine } from '../../src/engine/redis/index.js';
import { startRedis, type RedisProcess } from './redis.js';

export type EngineKind = 'memory' | 'redis';
export const ENGINE_KINDS: readonly EngineKind[] = ['memory', 'redis'];

export class Engines {
  #redis: Promise<RedisProcess> | undefined;
  #prefixes = 0;

  /** `name` starts every Redis key prefix of this file. */
  constructor(readonly name: string) {}

  /** A new engine of that kind (undefined for memory: the server's default MemoryEngine). */
  async engine(kind: EngineKind): Promise<Engine | undefined> {
    if (kind === 'memory') return undefined;
    this.#redis ??= startRedis();
    const redis = await this.#redis;
    return new RedisEngine({ url: redis.url, prefix: `${this.name}${++this.#prefixes}:` });
  }

  /** `count` Redis engines on one key prefix: the nodes of one cluster. */
  async cluster(count: number): Promise<RedisEngine[]> {
    this.#redis ??= startRedis();
    const redis = await this.#redis;
    const prefix = `${this.name}${++this.#prefixes}:`;
    return Array.from({ length: count }, () => new RedisEngine({ url: redis.url, prefix }));
  }

  async stop(): Promise<void> {
    if (this.#redis) await (await this.#redis).stop();
  }
}
