/**
 * `switchboard/redis`: the engine for a cluster of stateless nodes on one Redis.
 * @module
 */
export { RedisEngine, type RedisEngineOptions } from './redis-engine.js';
