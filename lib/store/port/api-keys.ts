import { z } from 'zod';
import { Id, type ApiKey } from '../../contracts/index.js';
import { Instant, Short, type Rules } from './rules.js';

/**
 * API keys, kept as a hash and a display prefix; the key itself is never stored. Creating and
 * revoking append their audit entry (`api_key.created`, `api_key.revoked`) in the same
 * transaction.
 */
export interface ApiKeyStore {
  /**
   * `not_found` when `agentId` is not an active agent of the owner's; `conflict` when the owner
   * already holds `maxActive` unrevoked keys (checked under a lock on the owner, so two
   * concurrent creates cannot both pass it).
   */
  createApiKey(input: CreateApiKeyInput): Promise<ApiKey>;
  /** Oldest first. */
  listApiKeys(ownerId: string): Promise<ApiKey[]>;
  /**
   * Revoking a revoked key changes nothing: it keeps the time it was first revoked, and no
   * second audit entry is written.
   */
  revokeApiKey(input: { ownerId: string; id: string; actor: string; now: Date }): Promise<ApiKey>;
  /** The owner (and the agent it is bound to, if any) of an unrevoked key with this hash, or null. */
  findApiKeyByHash(hash: string): Promise<ApiKeyPrincipal | null>;
}

export interface ApiKeyPrincipal {
  id: string;
  ownerId: string;
  agentId: string | null;
}

export interface CreateApiKeyInput {
  id: string;
  ownerId: string;
  name: string;
  prefix: string;
  hash: string;
  /** The one agent the key may invoke, or null for all of the owner's agents. */
  agentId: string | null;
  /** Who made it, for the audit log (`user:<id>`). */
  actor: string;
  /** Refused when the owner already holds this many unrevoked keys. */
  maxActive: number;
  now: Date;
}

const Hash = z.string().min(16).max(256);

export const apiKeyRules: Rules<ApiKeyStore> = {
  createApiKey: z.tuple([
    z.object({
      id: Id,
      ownerId: Id,
      name: Short(64),
      prefix: Short(32),
      hash: Hash,
      agentId: Id.nullable(),
      actor: Short(128),
      maxActive: z.number().int().min(1),
      now: Instant,
    }),
  ]),
  listApiKeys: z.tuple([Id]),
  revokeApiKey: z.tuple([z.object({ ownerId: Id, id: Id, actor: Short(128), now: Instant })]),
  findApiKeyByHash: z.tuple([Hash]),
};
