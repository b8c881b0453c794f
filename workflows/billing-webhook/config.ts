/** One workflow per Lemon Squeezy delivery, keyed by the sha256 hex of its raw body. */
export const billingWebhookWorkflowId = (eventKey: string) => `ls-${eventKey}`;
export const BILLING_WEBHOOK_WORKFLOW_KIND = 'billing-webhook';

/**
 * A failed payment's grace period: one per user at a time, so a second failed payment while
 * one runs joins it, and a recovery knows whom to signal.
 */
export const billingGraceWorkflowId = (userId: string) => `billing-grace-${userId}`;
export const BILLING_GRACE_WORKFLOW_KIND = 'billing-grace';
