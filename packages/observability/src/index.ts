export * from './logger.js';
export * from './metrics.js';
export * from './inbox-metrics.js';
export * from './runtime.js';
export * from './probes.js';
export * from './running-service.js';
export * from './tracing.js';
export * from './trace-attributes.js';
