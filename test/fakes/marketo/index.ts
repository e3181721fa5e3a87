export * from './fake-marketo.js';
export * from './fake-marketo-store.js';
