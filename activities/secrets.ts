import type { Runtime, SecretMetadata } from '../lib/contracts/index.js';
import type { RuntimeProvider } from '../lib/runtime/provider.js';
import type { Store } from '../lib/store/index.js';
import type { AuditNote } from '../lib/store/port/audit.js';
import { providerCall, requireProvider, storeCall } from './calls.js';

export interface SecretActivityDeps {
  store: Store;
  providers: Partial<Record<Runtime, RuntimeProvider>>;
}

export interface AgentSecretInput {
  runtime: Runtime;
  agentId: string;
  name: string;
}

/** The value arrives encrypted by the payload codec and is decrypted only in this process. */
export interface SetAgentSecretInput extends AgentSecretInput {
  value: string;
}

export interface AgentSecretResult {
  name: string;
}

export interface RecordSecretVersionInput {
  ownerId: string;
  agentId: string;
  name: string;
  version: number;
  deleted: boolean;
  now: string;
  /** Written with the version (same transaction), if it is recorded. */
  audit?: AuditNote;
}

export type RecordSecretVersionResult = SecretMetadata;

export interface ForgetSecretsInput {
  ownerId: string;
  agentId: string;
  now: string;
}

export interface ForgetSecretsResult {
  forgotten: number;
}

/**
 * Secrets at the runtime and their metadata in the store. Each is safe to retry: setting the
 * same value or deleting a deleted secret is the same state, and the store keeps the newest
 * version it was told of. No value is returned, logged, or put in an error.
 */
export function createSecretActivities(deps: SecretActivityDeps) {
  return {
    /** Sets the value at the agent's runtime: the agent reads it as `env.NAME` on its next invocation. */
    async setAgentSecret(input: SetAgentSecretInput): Promise<AgentSecretResult> {
      const provider = requireProvider(deps.providers, input.runtime);
      await providerCall(() => provider.setSecret({ agentId: input.agentId, name: input.name, value: input.value }));
      return { name: input.name };
    },

    /** Deletes the secret at the agent's runtime; one that is not there is success. */
    async deleteAgentSecret(input: AgentSecretInput): Promise<AgentSecretResult> {
      const provider = requireProvider(deps.providers, input.runtime);
      await providerCall(() => provider.deleteSecret({ agentId: input.agentId, name: input.name }));
      return { name: input.name };
    },

    /** Records the version of a change the runtime applied (never a value). */
    async recordSecretVersion(input: RecordSecretVersionInput): Promise<RecordSecretVersionResult> {
      return storeCall(() => deps.store.recordSecretVersion({ ...input, now: new Date(input.now) }));
    },

    /** Marks every secret of an agent being torn down deleted. */
    async forgetSecrets(input: ForgetSecretsInput): Promise<ForgetSecretsResult> {
      const forgotten = await storeCall(() => deps.store.forgetSecrets({ ...input, now: new Date(input.now) }));
      return { forgotten };
    },
  };
}
