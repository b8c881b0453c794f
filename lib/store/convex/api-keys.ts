import { api } from '../../../convex/_generated/api.js';
import type { ApiKeyStore } from '../port/index.js';
import { ms, type ConvexCaller } from './call.js';

export function convexApiKeys(call: ConvexCaller): ApiKeyStore {
  return {
    createApiKey: ({ id, now, ...key }) => call.mutation(api.apiKeys.create, { ...key, keyId: id, now: ms(now) }),
    listApiKeys: (ownerId) => call.query(api.apiKeys.list, { ownerId }),
    revokeApiKey: ({ ownerId, id, actor, now }) =>
      call.mutation(api.apiKeys.revoke, { ownerId, keyId: id, actor, now: ms(now) }),
    findApiKeyByHash: (hash) => call.query(api.apiKeys.findByHash, { hash }),
  };
}
