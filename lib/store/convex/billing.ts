import { api } from '../../../convex/_generated/api.js';
import type { BillingStore } from '../port/index.js';
import { ms, type ConvexCaller } from './call.js';

export function convexBilling(call: ConvexCaller): BillingStore {
  return {
    getBillingPeriod: (input) => call.query(api.billing.getPeriod, input),
    closeBillingPeriod: (input) => call.mutation(api.billing.closePeriod, { ...input, now: ms(input.now) }),
    recordUsageReport: (input) => call.mutation(api.billing.recordUsageReport, { ...input, now: ms(input.now) }),
    listBillableOwners: (input) =>
      call.query(api.billing.listBillableOwners, {
        period: input.period,
        after: input.after ?? null,
        limit: input.limit,
      }),
  };
}
