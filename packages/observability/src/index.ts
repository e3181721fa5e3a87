export * from './logger.js';
export * from './metrics.js';
export * from './inbox-metrics.js';
export * from './runtime.js';
export * from './probes.js';
export * from './running-service.js';
