// The readers and their client libraries (@azure/data-tables, @azure/msal-node) are loaded by createPullSource
// only for the source types configured: their modules are exported here as types only.
export * from './pull-source.js';
export * from './source-state.js';
export * from './poll-lock.js';
export * from './source-auth-error.js';
export * from './source-throttled-error.js';
export * from './source-timestamps.js';
export * from './source-metrics.js';
export * from './source-service.js';
export * from './table-entity-mapping.js';
export type * from './table-source.js';
export * from './create-pull-source.js';
export * from './source-health.js';
export * from './source-report.js';
export * from './reconciler.js';
export * from './referral-mapping.js';
export type * from './referrals-source.js';
export * from './partner-center-client.js';
export type * from './partner-center-auth.js';
export type * from './encrypted-token-cache.js';
export * from './referral-write-back.js';
