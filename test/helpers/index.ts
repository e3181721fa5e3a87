export * from './free-port.js';
export * from './redis-server.js';
export * from './azurite.js';
export * from './unique.js';
export * from './delivery-failure.js';
export * from './silent-runtime.js';
