import { z } from 'zod';
import { Id, Period, type BillingPeriod } from '../../contracts/index.js';
import { Instant, Short, type Rules } from './rules.js';

/** Billing periods: frozen once, reported once. */
export interface BillingStore {
  getBillingPeriod(input: PeriodRef): Promise<BillingPeriod>;
  /** Freezes the period's totals from its usage; closing a closed period changes nothing. */
  closeBillingPeriod(input: PeriodRef & { now: Date }): Promise<{ period: BillingPeriod; closedNow: boolean }>;
  /** Records the usage report of a closed period once; true only for the call that recorded it. */
  recordUsageReport(input: PeriodRef & { reportId: string; now: Date }): Promise<boolean>;
  /**
   * The owners a period's close visits, in ascending owner id after `after`: those with usage
   * in the period and those with a Lemon Squeezy subscription item (whose usage, possibly
   * none, is reported). At most `limit` per page; `next` is where the next page starts after,
   * null at the end. A page may hold fewer than `limit` owners, even none, while `next` is not
   * null (an adapter may bound how many users one page looks at).
   */
  listBillableOwners(input: ListBillableOwnersInput): Promise<BillableOwnersPage>;
}

export interface ListBillableOwnersInput {
  period: Period;
  /** The last owner id of the previous page; absent for the first page. */
  after?: string;
  limit: number;
}

export interface BillableOwner {
  ownerId: string;
  /** The Lemon Squeezy subscription item usage is reported to; null when the owner has none. */
  subscriptionItemId: string | null;
}

export interface BillableOwnersPage {
  owners: BillableOwner[];
  next: string | null;
}

export interface PeriodRef {
  ownerId: string;
  period: Period;
}

export const billingRules: Rules<BillingStore> = {
  getBillingPeriod: z.tuple([z.object({ ownerId: Id, period: Period })]),
  closeBillingPeriod: z.tuple([z.object({ ownerId: Id, period: Period, now: Instant })]),
  recordUsageReport: z.tuple([z.object({ ownerId: Id, period: Period, reportId: Short(128), now: Instant })]),
  listBillableOwners: z.tuple([
    z.object({ period: Period, after: Id.optional(), limit: z.number().int().min(1).max(1000) }),
  ]),
};
