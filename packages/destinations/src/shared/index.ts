export * from './http-outcome.js';
export * from './memory-rolling-quota.js';
export * from './destination-http.js';
