export * from './errors.js';
export * from './common.js';
export * from './agents.js';
export * from './deployments.js';
export * from './invoke.js';
