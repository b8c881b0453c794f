import { defineQuery } from '@temporalio/workflow';
import type { Runtime } from '../../lib/contracts/index.js';

/**
 * A change of one secret. The value travels only here, in the workflow's input, which the
 * platform's payload codec encrypts (lib/temporal/codec.ts): Temporal stores ciphertext.
 */
export interface SecretChangeInput {
  ownerId: string;
  agentId: string;
  /** The runtime the agent's versions live on: where the value is set. */
  runtime: Runtime;
  name: string;
  /** The version this change records (the previous one + 1). */
  version: number;
  /** The new value; absent to delete the secret. */
  value?: string;
  /** Who asked (`user:<id>`), for the audit log. */
  actor: string;
}

export interface SecretChangeResult {
  name: string;
  version: number;
  deleted: boolean;
  updatedAt: string;
}

export type SecretChangeStep = 'apply' | 'record' | 'done' | 'compensate';

/** Where the change is; operators read it in Temporal UI. */
export const secretProgressQuery = defineQuery<{ name: string; version: number; step: SecretChangeStep }>('progress');
