// The workflow bundle's entry: every workflow type the workers register.
export { billingCloseWorkflow, billingMonthEndWorkflow } from './billing-close/workflow.js';
export { deleteAgentWorkflow } from './delete-agent/workflow.js';
export { deployWorkflow } from './deploy/workflow.js';
export { retentionWorkflow } from './retention/workflow.js';
export { rollbackWorkflow } from './rollback/workflow.js';
export { secretWorkflow } from './secrets/workflow.js';
export { billingGraceWorkflow, billingWebhookWorkflow } from './billing-webhook/workflow.js';
export { webhookDeliveryWorkflow } from './webhooks/workflow.js';
