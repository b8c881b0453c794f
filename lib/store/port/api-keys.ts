import { z } from 'zod';
import { Id, type ApiKey } from '../../contracts/index.js';
import { Instant, Short, type Rules } from './rules.js';

/** API keys, kept as a hash and a display prefix; the key itself is never stored. */
export interface ApiKeyStore {
  createApiKey(input: CreateApiKeyInput): Promise<ApiKey>;
  /** Oldest first. */
  listApiKeys(ownerId: string): Promise<ApiKey[]>;
  /** Revoking a revoked key changes nothing: it keeps the time it was first revoked. */
  revokeApiKey(input: { ownerId: string; id: string; now: Date }): Promise<ApiKey>;
  /** The owner of an unrevoked key with this hash, or null. */
  findApiKeyByHash(hash: string): Promise<{ id: string; ownerId: string } | null>;
}

export interface CreateApiKeyInput {
  id: string;
  ownerId: string;
  name: string;
  prefix: string;
  hash: string;
  now: Date;
}

const Hash = z.string().min(16).max(256);

export const apiKeyRules: Rules<ApiKeyStore> = {
  createApiKey: z.tuple([
    z.object({ id: Id, ownerId: Id, name: Short(64), prefix: Short(32), hash: Hash, now: Instant }),
  ]),
  listApiKeys: z.tuple([Id]),
  revokeApiKey: z.tuple([z.object({ ownerId: Id, id: Id, now: Instant })]),
  findApiKeyByHash: z.tuple([Hash]),
};
