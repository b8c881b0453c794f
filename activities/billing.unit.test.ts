import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lemonSqueezyClient } from '../lib/billing/lemonsqueezy.js';
import { openStore, type Store } from '../lib/store/index.js';
import { startFakeLemonSqueezy } from '../test/fakes/lemonsqueezy.js';
import { activityRunner } from '../test/helpers/activities.js';
import { billingOwner } from '../test/helpers/billing.js';
import { PermanentFailure, RetryableFailure } from '../workflows/failures.js';
import { createBillingActivities, type CloseBillingPageInput, type CloseBillingPageProgress } from './billing.js';

const API_KEY = 'ls_test_key_never_logged';
let store: Store;
let fake: Awaited<ReturnType<typeof startFakeLemonSqueezy>>;
beforeAll(async () => {
  fake = await startFakeLemonSqueezy({ apiKey: API_KEY });
});
afterAll(async () => fake?.stop());
// A store per test: every subscriber is billable in every period, so tests would see each other's.
beforeEach(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
});
afterEach(async () => store?.close());

let periodSeq = 0;
/** A fresh past period per test, so tests do not see each other's owners. */
const freshPeriod = () => `2024-${String(++periodSeq).padStart(2, '0')}`;
let itemSeq = 1000;

/** Owners with usage: `subscribed` of them on a subscription item the fake knows, then `unsubscribed` without. */
async function owners(period: string, subscribed: number, unsubscribed = 0) {
  const made = [];
  for (let i = 0; i < subscribed + unsubscribed; i++) {
    const subscriptionItemId = i < subscribed ? String(++itemSeq) : undefined;
    if (subscriptionItemId) fake.addSubscriptionItem(subscriptionItemId);
    made.push(await billingOwner(store, { period, requests: i + 1, subscriptionItemId }));
  }
  return made.sort((a, b) => (a.ownerId < b.ownerId ? -1 : 1));
}

const input = (period: string, over: Partial<CloseBillingPageInput> = {}): CloseBillingPageInput => ({
  period,
  after: null,
  pageSize: 100,
  concurrency: 2,
  now: new Date().toISOString(),
  ...over,
});

function runner(heartbeatDetails?: CloseBillingPageProgress) {
  const env = new MockActivityEnvironment(heartbeatDetails ? { heartbeatDetails } : undefined);
  const beats: CloseBillingPageProgress[] = [];
  env.on('heartbeat', (d: CloseBillingPageProgress) => beats.push(structuredClone(d)));
  return { run: activityRunner(env), beats };
}

const activities = (lemonSqueezyReportsPerMinute = Infinity) =>
  createBillingActivities({
    store,
    lemonSqueezy: lemonSqueezyClient({ apiKey: API_KEY, storeId: '1' }),
    lemonSqueezyReportsPerMinute,
  });

describe('closeBillingPage', () => {
  it('closes every owner of the page, reports the subscribed ones once with their requests, and a repeat reports nothing', async () => {
    const period = freshPeriod();
    const made = await owners(period, 3, 1);
    const before = fake.usageRecords.length;
    const { run, beats } = runner();
    const result = await run(activities().closeBillingPage, input(period));
    expect(result).toEqual({
      next: null,
      refusals: [],
      counts: {
        owners: 4,
        closedNow: 4,
        reported: 3,
        alreadyReported: 0,
        noSubscription: 1,
        nothingToReport: 0,
        billingOff: 0,
        refused: 0,
      },
    });
    // concurrency 2: a heartbeat after each group, with the last owner done
    expect(beats.map((b) => b.done)).toEqual([made[1]!.ownerId, made[3]!.ownerId]);

    const records = fake.usageRecords.slice(before);
    for (const o of made) {
      const closed = await store.getBillingPeriod({ ownerId: o.ownerId, period });
      expect(closed.status).toBe('closed');
      if (o.subscriptionItemId === null) {
        expect(closed.usageReportId).toBeNull();
        continue;
      }
      const mine = records.filter((r) => r.subscriptionItemId === o.subscriptionItemId);
      expect(mine).toEqual([expect.objectContaining({ action: 'set', quantity: closed.totals!.requests })]);
      expect(closed.usageReportId).toBe(mine[0]!.id);
    }

    const again = await runner().run(activities().closeBillingPage, input(period));
    expect(again.counts).toMatchObject({ owners: 4, closedNow: 0, reported: 0, alreadyReported: 3 });
    expect(fake.usageRecords.length).toBe(before + 3);
  });

  it('pages by owner id: `next` leads to the rest', async () => {
    const period = freshPeriod();
    const made = await owners(period, 3);
    const first = await runner().run(activities().closeBillingPage, input(period, { pageSize: 2 }));
    expect(first).toMatchObject({ next: made[1]!.ownerId, counts: { owners: 2, reported: 2 } });
    const rest = await runner().run(activities().closeBillingPage, input(period, { pageSize: 2, after: first.next }));
    expect(rest).toMatchObject({ next: null, counts: { owners: 1, reported: 1 } });
  });

  it('resumes after the heartbeat of an earlier attempt: owners it says are done are not visited again', async () => {
    const period = freshPeriod();
    const made = await owners(period, 3);
    const before = fake.usageRecords.length;
    const done: CloseBillingPageProgress = {
      done: made[0]!.ownerId,
      alsoDone: [made[2]!.ownerId],
      counts: {
        owners: 2,
        closedNow: 2,
        reported: 2,
        alreadyReported: 0,
        noSubscription: 0,
        nothingToReport: 0,
        billingOff: 0,
        refused: 0,
      },
      refusals: [],
    };
    const result = await runner(done).run(activities().closeBillingPage, input(period));
    // only the middle owner was left: counted on top of what the earlier attempt did
    expect(result.counts).toMatchObject({ owners: 3, closedNow: 3, reported: 3 });
    expect(fake.usageRecords.slice(before).map((r) => r.subscriptionItemId)).toEqual([made[1]!.subscriptionItemId]);
    expect((await store.getBillingPeriod({ ownerId: made[0]!.ownerId, period })).status).toBe('open');
  });

  it('fails retryably on a Lemon Squeezy 5xx or 429, having heartbeated what is done; the retry reports the rest once', async () => {
    const period = freshPeriod();
    const made = await owners(period, 3);
    const before = fake.usageRecords.length;
    // the first group (2 owners) goes through, then 500 and 429
    const stall = fake.stallNext(1);
    stall.release();
    const { run, beats } = runner();
    const pending = run(activities().closeBillingPage, input(period));
    await stall.arrived;
    fake.failNext(500);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: RetryableFailure.ProviderRetryableError, nonRetryable: false });
    expect((err as Error).message).toMatch(/500/);
    expect(beats.at(-1)!.done).toBe(made[1]!.ownerId);

    fake.failNext(429);
    const again = await runner(beats.at(-1))
      .run(activities().closeBillingPage, input(period))
      .catch((e: unknown) => e);
    expect(again).toMatchObject({ type: RetryableFailure.ProviderRetryableError });
    const last = await runner(beats.at(-1)).run(activities().closeBillingPage, input(period));
    expect(last.counts).toMatchObject({ owners: 3, reported: 3, alreadyReported: 0 });
    expect([...fake.reportsPerItem()].filter(([id]) => made.some((o) => o.subscriptionItemId === id))).toEqual(
      made.map((o) => [o.subscriptionItemId, 1]),
    );
    expect(fake.usageRecords.length).toBe(before + 3);
  });

  it('counts a report refused for good and goes on; a refused API key stops the close, without the key in the error', async () => {
    const period = freshPeriod();
    const made = await owners(period, 2);
    // an item Lemon Squeezy does not know
    await store.setUserBilling({
      userId: made[0]!.ownerId,
      billing: { subscriptionItemId: '999999' },
      now: new Date(),
    });
    const result = await runner().run(activities().closeBillingPage, input(period));
    expect(result.counts).toMatchObject({ owners: 2, reported: 1, refused: 1 });
    expect(result.refusals).toEqual([
      expect.objectContaining({ ownerId: made[0]!.ownerId, subscriptionItemId: '999999', status: 422 }),
    ]);
    expect((await store.getBillingPeriod({ ownerId: made[0]!.ownerId, period })).status).toBe('closed');

    const wrongKey = createBillingActivities({
      store,
      lemonSqueezy: lemonSqueezyClient({ apiKey: 'ls_wrong_key_secret', storeId: '1' }),
    });
    const err = await runner()
      .run(wrongKey.closeBillingPage, input(period))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ type: PermanentFailure.BillingNotAuthorized, nonRetryable: true });
    expect(JSON.stringify(err) + String((err as Error).message)).not.toContain('ls_wrong_key_secret');
    // put the process-wide SDK key back for the other tests
    activities();
  });

  it('paces its reports under Lemon Squeezy’s rate limit, across concurrent owners', async () => {
    const period = freshPeriod();
    await owners(period, 4);
    const before = fake.usageRecords.length;
    // 600 a minute: one every 100 ms, though 4 owners are closed at once — so the 4 reports
    // take about 300 ms in all (unpaced, they go out together). Measured over the whole
    // run, not between arrivals, which a busy machine can bunch up.
    const started = performance.now();
    await runner().run(activities(600).closeBillingPage, input(period, { concurrency: 4 }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(fake.usageRecords.slice(before)).toHaveLength(4);
  });

  it('without Lemon Squeezy (billing off) closes every owner and reports none', async () => {
    const period = freshPeriod();
    await owners(period, 2, 1);
    const before = fake.calls.length;
    const result = await runner().run(createBillingActivities({ store }).closeBillingPage, input(period));
    expect(result.counts).toMatchObject({ owners: 3, closedNow: 3, reported: 0, billingOff: 2, noSubscription: 1 });
    expect(fake.calls.length).toBe(before);
  });
});
