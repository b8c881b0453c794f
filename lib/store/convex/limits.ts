import { api } from '../../../convex/_generated/api.js';
import type { LimitStore } from '../port/index.js';
import type { ConvexCaller } from './call.js';

export function convexLimits(call: ConvexCaller): LimitStore {
  return {
    leaseRequests: (input) => call.mutation(api.limits.lease, input),
    releaseRequests: async (input) => {
      await call.mutation(api.limits.release, input);
    },
  };
}
