export * from './backoff.js';
export * from './batcher.js';
export * from './call-gate.js';
export * from './destination-worker.js';
export * from './delivery-service.js';
export * from './dead-letter-sweeper.js';
export * from './lead-repair-sweeper.js';
