export * from './schema.js';
export * from './source-schema.js';
export * from './load-config.js';
export * from './config-error.js';
export * from './interpolate.js';
export * from './json-schema.js';
export * from './match.js';
export * from './dev-credentials-guard.js';
