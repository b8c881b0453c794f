import { api } from '../../../convex/_generated/api.js';
import type { SecretStore } from '../port/index.js';
import { auditArg, ms, type ConvexCaller } from './call.js';

export function convexSecrets(call: ConvexCaller): SecretStore {
  return {
    secretVersion: (ownerId, agentId, name) => call.query(api.secrets.version, { ownerId, agentId, name }),
    recordSecretVersion: ({ audit, ...input }) =>
      call.mutation(api.secrets.record, { ...input, now: ms(input.now), ...auditArg(audit) }),
    listSecretMetadata: (ownerId, agentId) => call.query(api.secrets.list, { ownerId, agentId }),
    forgetSecrets: (input) => call.mutation(api.secrets.forget, { ...input, now: ms(input.now) }),
  };
}
