// The workflow bundle's entry: every workflow type the workers register.
export { deployWorkflow } from './deploy/workflow.js';
