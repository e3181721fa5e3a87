export * from './fake-salesforce.js';
export * from './salesforce-wire.js';
