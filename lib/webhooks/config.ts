import { webhookSecrets } from '../auth/platform-keys.js';
import { webhookUrlPolicyFromEnv, type WebhookUrlPolicy } from './url.js';

/** What the api (to show a new endpoint's secret) and the workers (to sign) need of webhooks. */
export interface WebhookConfig {
  /** An endpoint's signing secret (`whsec_…`), derived from the master key. */
  secretFor: (endpointId: string) => string;
  /** Where endpoints may point (WEBHOST_WEBHOOKS_ALLOW_LOOPBACK). */
  urlPolicy: WebhookUrlPolicy;
}

export const webhookConfigFromEnv = (env: NodeJS.ProcessEnv, masterKey: Buffer): WebhookConfig => ({
  secretFor: webhookSecrets(masterKey),
  urlPolicy: webhookUrlPolicyFromEnv(env),
});
