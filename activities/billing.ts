import { ApplicationFailure, Context } from '@temporalio/activity';
import { LemonSqueezyError, type LemonSqueezy } from '../lib/billing/lemonsqueezy.js';
import type { BillableOwner, Store } from '../lib/store/index.js';
import { LEMONSQUEEZY_CALL_TIMEOUT_MS, LEMONSQUEEZY_REPORTS_PER_MINUTE } from '../workflows/billing-close/config.js';
import {
  addCloseCounts,
  MAX_REFUSALS_KEPT,
  zeroCloseCounts,
  type BillingCloseCounts,
  type BillingReportRefusal,
} from '../workflows/billing-close/messages.js';
import { PermanentFailure, RetryableFailure } from '../workflows/failures.js';
import { storeCall } from './calls.js';

export interface BillingActivityDeps {
  store: Store;
  /**
   * Lemon Squeezy, when billing is configured (LEMONSQUEEZY_API_KEY and _STORE_ID). Without it
   * periods still close, and owners with a subscription item are counted as `billingOff`.
   * The API key lives in this client, never in workflow input or history.
   */
  lemonSqueezy?: Pick<LemonSqueezy, 'setUsage'>;
  /** Reports sent per minute at most, by this worker; default LEMONSQUEEZY_REPORTS_PER_MINUTE, `Infinity` for a fake. */
  lemonSqueezyReportsPerMinute?: number;
}

export interface CloseBillingPageInput {
  period: string;
  /** The page starts after this owner id; null for the first page. */
  after: string | null;
  pageSize: number;
  /** Owners closed and reported at once. */
  concurrency: number;
  /** Workflow time (ISO): the close time of the periods this call freezes and the time of their reports. */
  now: string;
}

export interface CloseBillingPageResult {
  /** Where the next page starts after; null when every owner has been visited. */
  next: string | null;
  counts: BillingCloseCounts;
  /** The first MAX_REFUSALS_KEPT refusals of this page. */
  refusals: BillingReportRefusal[];
}

/**
 * Heartbeat details: the owners of this page done so far. A retried call (the worker died,
 * Lemon Squeezy answered 5xx or 429) reads them and resumes after `done`.
 */
export interface CloseBillingPageProgress {
  /** The last owner id done; every owner of the page up to it is closed and, where due, reported. */
  done: string | null;
  /** Owners after `done` that are done too (a group that partly failed). */
  alsoDone: string[];
  counts: BillingCloseCounts;
  refusals: BillingReportRefusal[];
}

/** The quantity reported for a period: its requests (the usage-based variant is priced per request). */
export const reportedQuantity = (totals: { requests: number } | null) => totals?.requests ?? 0;

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new LemonSqueezyError(`Lemon Squeezy did not answer within ${ms} ms`, null, true)),
      ms,
    );
    p.then(resolve, reject).finally(() => clearTimeout(timer));
  });

/** Spaces calls evenly at `perMinute`: each waits for its slot. */
function pacer(perMinute: number): () => Promise<void> {
  if (!Number.isFinite(perMinute)) return async () => undefined;
  const gapMs = 60_000 / perMinute;
  let nextSlot = 0;
  return async () => {
    const now = Date.now();
    const slot = Math.max(now, nextSlot);
    nextSlot = slot + gapMs;
    if (slot > now) await new Promise((r) => setTimeout(r, slot - now));
  };
}

/**
 * Billing-period close (DESIGN.md §6). Exactly one usage report per owner and period:
 * - a period is closed once (the store freezes it from its hourly metrics the first time only);
 * - a report is sent only while the period has no recorded report (`usageReportId`), and
 *   recorded right after Lemon Squeezy accepts it; a retried call skips the owners already done
 *   (heartbeat) and, for any other, finds their recorded report;
 * - Lemon Squeezy takes no idempotency key, so the one window left is a worker that dies
 *   after Lemon Squeezy applied a report and before it was recorded: the retry sends it again
 *   with `action: 'set'` and the same quantity, which changes nothing billed.
 */
export function createBillingActivities(deps: BillingActivityDeps) {
  const nextReportSlot = pacer(deps.lemonSqueezyReportsPerMinute ?? LEMONSQUEEZY_REPORTS_PER_MINUTE);
  /** Closes one owner's period and reports it if due; says what it did. */
  async function closeOwner(
    owner: BillableOwner,
    input: CloseBillingPageInput,
  ): Promise<{ counts: BillingCloseCounts; refusal?: BillingReportRefusal }> {
    const now = new Date(input.now);
    const { ownerId, subscriptionItemId } = owner;
    const counts = { ...zeroCloseCounts(), owners: 1 };
    const { period, closedNow } = await storeCall(() =>
      deps.store.closeBillingPeriod({ ownerId, period: input.period, now }),
    );
    // Closed by this page: now, or by an earlier attempt of this same call (same `now`).
    if (closedNow || (period.closedAt !== null && Date.parse(period.closedAt) === now.getTime())) counts.closedNow = 1;
    if (subscriptionItemId === null) return { counts: { ...counts, noSubscription: 1 } };
    if (period.usageReportId !== null) return { counts: { ...counts, alreadyReported: 1 } };
    if (!deps.lemonSqueezy) return { counts: { ...counts, billingOff: 1 } };
    const quantity = reportedQuantity(period.totals);
    // The SDK refuses a quantity of 0 (it checks its arguments for truthiness), and there is
    // nothing to set: a subscription item's period starts at 0 and only the close reports to it.
    if (quantity === 0) return { counts: { ...counts, nothingToReport: 1 } };
    let reportId: string;
    await nextReportSlot();
    try {
      reportId = await withTimeout(
        deps.lemonSqueezy.setUsage({ subscriptionItemId, quantity }),
        LEMONSQUEEZY_CALL_TIMEOUT_MS,
      );
    } catch (err) {
      if (!(err instanceof LemonSqueezyError)) throw err;
      // 429, 5xx, no answer: the whole call is retried and resumes here.
      if (err.retryable) throw ApplicationFailure.retryable(err.message, RetryableFailure.ProviderRetryableError);
      // A refused key refuses every owner: stop the close until an operator fixes it.
      if (err.statusCode === 401 || err.statusCode === 403)
        throw ApplicationFailure.nonRetryable(err.message, PermanentFailure.BillingNotAuthorized);
      // This owner's report is refused (e.g. an unknown subscription item): the others go on.
      return {
        counts: { ...counts, refused: 1 },
        refusal: { ownerId, subscriptionItemId, status: err.statusCode, message: err.message },
      };
    }
    const recorded = await storeCall(() =>
      deps.store.recordUsageReport({ ownerId, period: input.period, reportId, now }),
    );
    return { counts: recorded ? { ...counts, reported: 1 } : { ...counts, alreadyReported: 1 } };
  }

  return {
    /**
     * Closes the period of one page of billable owners and reports each one's usage to Lemon
     * Squeezy (`action: 'set'`), `concurrency` owners at a time; heartbeats after each group
     * with the last owner done. Safe to retry: see the factory's comment; a retry resumes after
     * the heartbeat, and owners it visits again are closed already and have their report.
     * Stops between groups when the workflow cancels it.
     */
    async closeBillingPage(input: CloseBillingPageInput): Promise<CloseBillingPageResult> {
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as CloseBillingPageProgress | undefined;
      const progress: CloseBillingPageProgress = resumed ?? {
        done: null,
        alsoDone: [],
        counts: zeroCloseCounts(),
        refusals: [],
      };
      const page = await storeCall(() =>
        deps.store.listBillableOwners({
          period: input.period,
          ...(input.after === null ? {} : { after: input.after }),
          limit: input.pageSize,
        }),
      );
      const { done } = progress;
      const skip = new Set(progress.alsoDone);
      const todo = page.owners.filter((o) => (done === null || o.ownerId > done) && !skip.has(o.ownerId));
      for (let i = 0; i < todo.length; i += input.concurrency) {
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        const group = todo.slice(i, i + input.concurrency);
        // Every call of the group settles before the activity ends, failed or not: none is left
        // running beside a retry of this call.
        const settled = await Promise.allSettled(group.map((owner) => closeOwner(owner, input)));
        settled.forEach((s, j) => {
          if (s.status !== 'fulfilled') return;
          addCloseCounts(progress.counts, s.value.counts);
          if (s.value.refusal && progress.refusals.length < MAX_REFUSALS_KEPT) progress.refusals.push(s.value.refusal);
          progress.alsoDone.push(group[j]!.ownerId);
        });
        const failed = settled.find((s) => s.status === 'rejected');
        if (failed) {
          // The owners of the group that finished are counted, and skipped by the retry.
          ctx.heartbeat(progress);
          throw failed.reason;
        }
        progress.done = group.at(-1)!.ownerId;
        progress.alsoDone = [];
        ctx.heartbeat(progress);
      }
      return { next: page.next, counts: progress.counts, refusals: progress.refusals };
    },
  };
}
