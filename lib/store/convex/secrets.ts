import { api } from '../../../convex/_generated/api.js';
import type { SecretStore } from '../port/index.js';
import { ms, type ConvexCaller } from './call.js';

export function convexSecrets(call: ConvexCaller): SecretStore {
  return {
    putSecretMetadata: (input) => call.mutation(api.secrets.put, { ...input, now: ms(input.now) }),
    listSecretMetadata: (ownerId, agentId) => call.query(api.secrets.list, { ownerId, agentId }),
    async deleteSecretMetadata(input) {
      await call.mutation(api.secrets.remove, input);
    },
  };
}
