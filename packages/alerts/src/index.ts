export * from './alert.js';
export * from './alert-webhook.js';
export * from './alerts.js';
export * from './queue-wait-monitor.js';
export * from './alert-format.js';
