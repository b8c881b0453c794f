import { api } from '../../../convex/_generated/api.js';
import type { UserStore } from '../port/index.js';
import { auditArg, ms, type ConvexCaller } from './call.js';

export function convexUsers(call: ConvexCaller): UserStore {
  return {
    async ensureUser(userId, now, tier) {
      await call.mutation(api.users.ensure, { userId, now: ms(now), ...(tier ? { tier } : {}) });
    },
    setUserAddOns: (input) => call.mutation(api.users.setAddOns, { ...input, now: ms(input.now) }),
    getUser: (userId) => call.query(api.users.get, { userId }),
    setUserTier: (input) => call.mutation(api.users.setTier, { ...input, now: ms(input.now) }),
    changeUserPlan: ({ audit, ...input }) =>
      call.mutation(api.users.changePlanOf, { ...input, now: ms(input.now), ...auditArg(audit) }),
    setUserBilling: (input) => call.mutation(api.users.setBilling, { ...input, now: ms(input.now) }),
  };
}
