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
}

export interface PeriodRef {
  ownerId: string;
  period: Period;
}

export const billingRules: Rules<BillingStore> = {
  getBillingPeriod: z.tuple([z.object({ ownerId: Id, period: Period })]),
  closeBillingPeriod: z.tuple([z.object({ ownerId: Id, period: Period, now: Instant })]),
  recordUsageReport: z.tuple([z.object({ ownerId: Id, period: Period, reportId: Short(128), now: Instant })]),
};
