export { createLpioAdapter, type LpioOptions } from './adapter.js';
export { formatBatch, formatState, LPIO_ERRORS, parseRequest, STATE } from './codec.js';
