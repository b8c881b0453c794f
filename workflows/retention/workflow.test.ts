import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { TypedSearchAttributes } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRetentionSchedule, runRetentionNow } from '../../lib/temporal/schedules.js';
import { WorkflowKindKey } from '../../lib/temporal/search-attributes.js';
import { startDeployEnv, type DeployEnv } from '../../test/helpers/deploy-env.js';
import { eventDaysAgo, telemetryOwner } from '../../test/helpers/telemetry.js';
import { replayAndRecord } from '../../test/helpers/temporal.js';
import { RETENTION_WORKFLOW_KIND, utcDate } from './config.js';
import { retentionProgressQuery, type RetentionResult } from './messages.js';

let env: DeployEnv;
beforeAll(async () => {
  env = await startDeployEnv();
});
afterAll(async () => env?.close());

const DAY_MS = 86_400_000;

/** What an owner's aggregates say: retention must leave them as they were. */
async function aggregates(owner: { ownerId: string; agentId: string }, now: Date) {
  const periods = [
    ...new Set([0, 8, 31, 40].map((d) => new Date(now.getTime() - d * DAY_MS).toISOString().slice(0, 7))),
  ];
  return {
    hourly: await env.store.listHourlyMetrics({
      ownerId: owner.ownerId,
      agentId: owner.agentId,
      from: new Date(now.getTime() - 60 * DAY_MS),
      to: new Date(now.getTime() + DAY_MS),
    }),
    usage: await Promise.all(periods.map((period) => env.store.getUsage({ ownerId: owner.ownerId, period }))),
  };
}

const deletedByTier = (result: RetentionResult) => Object.fromEntries(result.tiers.map((t) => [t.tier, t.deleted]));

describe('retention workflow', () => {
  it('deletes, per tier, exactly the raw events older than its window, in batches; aggregates are kept', async () => {
    const now = new Date();
    // free keeps 7 days, starter 30 (TIER_LIMITS)
    const free = await telemetryOwner(env.store, 'free');
    const starter = await telemetryOwner(env.store, 'starter');
    const freeKept = [eventDaysAgo(now, 1), eventDaysAgo(now, 6)];
    const starterKept = [eventDaysAgo(now, 1), ...Array.from({ length: 4 }, () => eventDaysAgo(now, 8))];
    await free.ingest([
      ...freeKept,
      ...Array.from({ length: 6 }, () => eventDaysAgo(now, 8)),
      ...Array.from({ length: 4 }, () => eventDaysAgo(now, 31)),
    ]);
    await starter.ingest([...starterKept, ...Array.from({ length: 3 }, () => eventDaysAgo(now, 40))]);
    const before = { free: await aggregates(free, now), starter: await aggregates(starter, now) };

    // batches of 3, one batch per activity call: the workflow calls again while a call says `more`
    const date = utcDate(now);
    const { workflowId, result } = await runRetentionNow(env.client, {
      taskQueue: env.taskQueue,
      input: { date, batchSize: 3, activityBudgetMs: 0 },
    });
    expect(workflowId).toBe(`retention-${date}`);
    expect(deletedByTier(result)).toEqual({ free: 10, starter: 3, pro: 0, enterprise: 0 });
    expect(result).toMatchObject({ date, deleted: 13 });
    for (const t of result.tiers) {
      expect(t.done).toBe(true);
      const cutoff = Date.parse(t.cutoff);
      expect(cutoff).toBeGreaterThan(now.getTime() - t.retentionDays * DAY_MS - 60_000);
      expect(cutoff).toBeLessThan(Date.now() - t.retentionDays * DAY_MS + 1);
    }
    expect(result.tiers.find((t) => t.tier === 'starter')?.retentionDays).toBe(30);

    expect(await free.eventIds()).toEqual(freeKept.map((e) => e.id).sort());
    expect(await starter.eventIds()).toEqual(starterKept.map((e) => e.id).sort());
    expect({ free: await aggregates(free, now), starter: await aggregates(starter, now) }).toEqual(before);
    expect(before.free.hourly.reduce((n, h) => n + h.computeMs, 0)).toBe(120); // 12 events of 10 ms kept in the aggregates

    const handle = env.client.workflow.getHandle(workflowId);
    expect(await handle.query(retentionProgressQuery)).toEqual(result);
    expect((await handle.describe()).typedSearchAttributes.get(WorkflowKindKey)).toBe(RETENTION_WORKFLOW_KIND);
    await replayAndRecord(handle, import.meta.dirname, 'retention.json');

    // run again the same day: nothing left to delete
    const again = await runRetentionNow(env.client, { taskQueue: env.taskQueue, input: { date, batchSize: 3 } });
    expect(again.result.deleted).toBe(0);
    expect(await free.eventIds()).toEqual(freeKept.map((e) => e.id).sort());
  });
});

describe('retention schedule', () => {
  const schedules: string[] = [];
  afterAll(async () => {
    for (const id of schedules)
      await env.client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
  });

  async function newSchedule(client: Client) {
    const scheduleId = `retention-daily-test-${randomUUID()}`;
    schedules.push(scheduleId);
    return { scheduleId, ensure: () => ensureRetentionSchedule(client, { taskQueue: env.taskQueue, scheduleId }) };
  }

  it('is created once and brought back to its spec at every start; a trigger starts a run', async () => {
    const { scheduleId, ensure } = await newSchedule(env.client);
    expect(await ensure()).toEqual({ scheduleId, created: true });
    const handle = env.client.schedule.getHandle(scheduleId);
    // an operator (or an older platform) changed it; the next start restores it
    await handle.update((s) => ({
      ...s,
      spec: { calendars: [{ hour: 5, minute: 0 }] },
      policies: { overlap: 'ALLOW_ALL' },
    }));
    expect(await ensure()).toEqual({ scheduleId, created: false });

    const described = await handle.describe();
    expect(described.spec.calendars).toEqual([
      expect.objectContaining({ hour: [{ start: 3, end: 3, step: 1 }], minute: [{ start: 15, end: 15, step: 1 }] }),
    ]);
    expect(described.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: DAY_MS });
    expect(described.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'retentionWorkflow',
      workflowId: 'retention',
      taskQueue: env.taskQueue,
    });
    expect((described.action.typedSearchAttributes as TypedSearchAttributes).get(WorkflowKindKey)).toBe(
      RETENTION_WORKFLOW_KIND,
    );

    await handle.trigger();
    let workflowId: string | undefined;
    for (let i = 0; i < 100 && !workflowId; i++) {
      workflowId = (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId;
      if (!workflowId) await new Promise((r) => setTimeout(r, 100));
    }
    // Temporal names the run after the action's id and the (trigger) time
    expect(workflowId).toMatch(/^retention-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const result = (await env.client.workflow.getHandle(workflowId!).result()) as RetentionResult;
    expect(result.date).toBe(workflowId!.slice('retention-'.length, 'retention-'.length + 10));
    expect(result.tiers.map((t) => t.tier)).toEqual(['free', 'starter', 'pro', 'enterprise']);
    expect(result.tiers.every((t) => t.done)).toBe(true);
  });
});
