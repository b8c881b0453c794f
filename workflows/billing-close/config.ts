/**
 * One close per billing period, whoever starts it: `billing-close-<period>` (`billing-close-2026-11`).
 * The monthly Schedule and `admin -- close-period` both start this id, so they cannot run the
 * same period's close twice at once.
 */
export const billingCloseWorkflowId = (period: string) => `billing-close-${period}`;

export const BILLING_CLOSE_WORKFLOW_KIND = 'billing-close';

/** The Schedule that closes the previous month (created or updated at platform start). */
export const BILLING_CLOSE_SCHEDULE_ID = 'billing-close-monthly';

/**
 * The workflow id the Schedule's action names (Temporal appends `-<scheduled time>`): a small
 * workflow that works out the month that just ended and starts `billing-close-<period>`.
 */
export const BILLING_MONTH_END_WORKFLOW_ID = 'billing-month-end';

/** When the Schedule runs: the 1st of every month, 00:10 UTC (ten minutes for late hourly metrics to land). */
export const BILLING_CLOSE_SCHEDULE_AT = { dayOfMonth: 1, hour: 0, minute: 10 } as const;

/**
 * Owners per activity call: one call closes and reports a page, heartbeating after each few
 * owners, so a retried call resumes inside its page. Small enough that a page finishes well
 * inside Lemon Squeezy's 300 calls a minute, large enough that 10,000 owners take 50 calls.
 */
export const BILLING_CLOSE_PAGE_SIZE = 200;

/**
 * Pages per workflow run before it continues as new (sooner if Temporal suggests it): keeps
 * each run's history a few hundred events however many owners there are.
 */
export const BILLING_CLOSE_PAGES_PER_RUN = 10;

/** Owners one activity call closes and reports at once (Lemon Squeezy calls in flight). */
export const BILLING_CLOSE_CONCURRENCY = 4;

/**
 * Usage reports one worker sends per minute at most: Lemon Squeezy allows 300 API calls a
 * minute per key, and a 429 costs a retry with backoff. So 10,000 subscribed users take about
 * 42 minutes against the real API; the bench and tests lift it for the fake.
 */
export const LEMONSQUEEZY_REPORTS_PER_MINUTE = 240;

/** A Lemon Squeezy call that has not answered after this long is abandoned and retried. */
export const LEMONSQUEEZY_CALL_TIMEOUT_MS = 30_000;

/** `YYYY-MM`, a UTC month. Plain code (no zod), so the workflow bundle stays small. */
export const isPeriod = (s: string) => /^\d{4}-(0[1-9]|1[0-2])$/.test(s);

/** The first instant after the period (UTC), epoch ms. */
export function periodEndMs(period: string): number {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return Date.UTC(y, m, 1);
}

/** The UTC month before the one `at` falls in: what a close on the 1st closes. */
export function previousPeriod(at: Date): string {
  const d = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1));
  return d.toISOString().slice(0, 7);
}
