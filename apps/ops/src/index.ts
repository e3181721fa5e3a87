export * from './ops-server.js';
export * from './ops-password-missing-error.js';
export * from './ops-credentials.js';
export * from './csrf-guard.js';
export * from './destination-view.js';
export * from './safe-html.js';
