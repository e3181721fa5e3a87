export * from './destination.js';
export * from './registry.js';
export * from './shared/index.js';
