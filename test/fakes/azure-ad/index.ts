export * from './aadsts-errors.js';
export * from './azure-ad-server.js';
