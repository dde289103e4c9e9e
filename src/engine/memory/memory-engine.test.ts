import { runEngineContract } from '../../../test/contract/engine.contract.js';
import { MemoryEngine } from './memory-engine.js';

runEngineContract('memory', () => new MemoryEngine());
