import { z } from 'zod';
import { Id, SecretName, type SecretMetadata } from '../../contracts/index.js';
import { AuditNoteRule, type AuditNote } from './audit.js';
import { Instant, type Rules } from './rules.js';

/**
 * Secret metadata: a name and a version, never the value (architecture.md, Invariants).
 * Versions only grow, also across a delete (a deleted secret is kept as a tombstone), so
 * `secret-<agentId>-<name>-<version>` names each change once.
 */
export interface SecretStore {
  /** The secret's latest version, set or deleted; 0 when it was never set. */
  secretVersion(ownerId: string, agentId: string, name: string): Promise<number>;
  /**
   * Records a change the provider has applied. A version older than the one recorded changes
   * nothing (a late retry); the same version again is success.
   */
  recordSecretVersion(input: RecordSecretInput): Promise<SecretMetadata>;
  /** The agent's secrets that are set, by name. */
  listSecretMetadata(ownerId: string, agentId: string): Promise<SecretMetadata[]>;
  /** Marks every secret of the agent deleted (its teardown); works on a deleted agent. How many it marked. */
  forgetSecrets(input: { ownerId: string; agentId: string; now: Date }): Promise<number>;
}

export interface RecordSecretInput {
  ownerId: string;
  agentId: string;
  name: string;
  version: number;
  deleted: boolean;
  now: Date;
  /** Written with the new version, if it is recorded (not for a repeat or an older version). */
  audit?: AuditNote;
}

export const secretRules: Rules<SecretStore> = {
  secretVersion: z.tuple([Id, Id, SecretName]),
  recordSecretVersion: z.tuple([
    z.object({
      ownerId: Id,
      agentId: Id,
      name: SecretName,
      version: z.number().int().min(1),
      deleted: z.boolean(),
      now: Instant,
      audit: AuditNoteRule.optional(),
    }),
  ]),
  listSecretMetadata: z.tuple([Id, Id]),
  forgetSecrets: z.tuple([z.object({ ownerId: Id, agentId: Id, now: Instant })]),
};
