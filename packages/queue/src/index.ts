export * from './redis-connection.js';
export * from './key-space.js';
export * from './delivery-state.js';
export * from './lead-store.js';
export * from './destination-control.js';
export * from './redis-rolling-quota.js';
export * from './relay.js';
export * from './queue-metrics.js';
