export * from './http-outcome.js';
