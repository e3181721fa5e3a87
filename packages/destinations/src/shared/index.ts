export * from './destination-errors.js';
export * from './memory-rolling-quota.js';
export * from './destination-http.js';
export * from './shared-token.js';
export * from './field-limits.js';
export * from './network.js';
export * from './memory-key-locks.js';
export * from './linked-signal.js';
