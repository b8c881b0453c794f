import { z } from 'zod';
import { Id, SecretName, type SecretMetadata } from '../../contracts/index.js';
import { Instant, type Rules } from './rules.js';

/** Secret metadata: a name and a version, never the value (architecture.md, Invariants). */
export interface SecretStore {
  /** Records that a secret was set: creates it at version 1 or bumps its version. */
  putSecretMetadata(input: SecretRef & { now: Date }): Promise<SecretMetadata>;
  /** By name. */
  listSecretMetadata(ownerId: string, agentId: string): Promise<SecretMetadata[]>;
  deleteSecretMetadata(input: SecretRef): Promise<void>;
}

export interface SecretRef {
  ownerId: string;
  agentId: string;
  name: string;
}

export const secretRules: Rules<SecretStore> = {
  putSecretMetadata: z.tuple([z.object({ ownerId: Id, agentId: Id, name: SecretName, now: Instant })]),
  listSecretMetadata: z.tuple([Id, Id]),
  deleteSecretMetadata: z.tuple([z.object({ ownerId: Id, agentId: Id, name: SecretName })]),
};
