export * from './errors.js';
export * from './common.js';
export * from './agents.js';
export * from './deployments.js';
export * from './invoke.js';
export * from './tiers.js';
export * from './accounts.js';
export * from './usage.js';
