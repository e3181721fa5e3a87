export * from './lead.js';
export * from './lead-id.js';
export * from './duration.js';
export * from './delivery-errors.js';
export * from './intake-formats.js';
export * from './templates.js';
export * from './redact.js';
export * from './schema-helpers.js';
