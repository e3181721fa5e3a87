export * from './dataverse-server.js';
