import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../lib/ids.js';
import { openStore, type Store } from '../lib/store/index.js';
import { activityRunner } from '../test/helpers/activities.js';
import { eventDaysAgo, telemetryOwner } from '../test/helpers/telemetry.js';
import { createRetentionActivities, type DeleteExpiredTelemetryProgress } from './retention.js';

let store: Store;
beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
});
afterAll(async () => store?.close());

describe('deleteExpiredTelemetry', () => {
  it('deletes events and log lines in batches, heartbeating the running count, and a repeated call is harmless', async () => {
    const now = new Date();
    const owner = await telemetryOwner(store, 'free');
    const kept = [eventDaysAgo(now, 1), eventDaysAgo(now, 6)];
    await owner.ingest([...Array.from({ length: 7 }, () => eventDaysAgo(now, 8)), ...kept]);
    const line = (e: { at: string }) => ({ id: `log:${newId('req')}`, at: e.at, level: 'log' as const, message: 'm' });
    const keptLine = line(eventDaysAgo(now, 1));
    await store.appendLogs({
      ownerId: owner.ownerId,
      agentId: owner.agentId,
      deploymentId: owner.deploymentId,
      lines: [...Array.from({ length: 4 }, () => line(eventDaysAgo(now, 8))), keptLine],
      dropped: 0,
    });
    const { deleteExpiredTelemetry } = createRetentionActivities({ store });
    const input = {
      tier: 'free' as const,
      cutoff: new Date(now.getTime() - 7 * 86_400_000).toISOString(),
      batchSize: 3,
    };

    const env = new MockActivityEnvironment();
    const beats: DeleteExpiredTelemetryProgress[] = [];
    env.on('heartbeat', (d: DeleteExpiredTelemetryProgress) => beats.push({ ...d }));
    const run = activityRunner(env);
    expect(await run(deleteExpiredTelemetry, { ...input, budgetMs: 60_000 })).toEqual({
      deleted: 7,
      logsDeleted: 4,
      more: false,
    });
    expect(beats).toEqual([
      { deleted: 3, logsDeleted: 3, batches: 1 },
      { deleted: 6, logsDeleted: 4, batches: 2 },
      { deleted: 7, logsDeleted: 4, batches: 3 },
    ]);
    expect(await owner.eventIds()).toEqual(kept.map((e) => e.id).sort());
    const lines = await store.listLogsAfter({ ownerId: owner.ownerId, agentId: owner.agentId, after: 0, limit: 10 });
    expect(lines.map((l) => l.id)).toEqual([keptLine.id]);

    // repeated (a retry after the worker died, or the next day's run): nothing left to delete
    expect(await run(deleteExpiredTelemetry, { ...input, budgetMs: 60_000 })).toEqual({
      deleted: 0,
      logsDeleted: 0,
      more: false,
    });
    expect(await owner.eventIds()).toEqual(kept.map((e) => e.id).sort());
  });

  it('hands back with more: true when its time budget runs out', async () => {
    const now = new Date();
    const owner = await telemetryOwner(store, 'starter');
    await owner.ingest(Array.from({ length: 5 }, () => eventDaysAgo(now, 40)));
    const { deleteExpiredTelemetry } = createRetentionActivities({ store });
    const input = { tier: 'starter' as const, cutoff: new Date(now.getTime() - 30 * 86_400_000).toISOString() };
    const run = activityRunner();
    expect(await run(deleteExpiredTelemetry, { ...input, batchSize: 2, budgetMs: 0 })).toEqual({
      deleted: 2,
      logsDeleted: 0,
      more: true,
    });
    expect(await run(deleteExpiredTelemetry, { ...input, batchSize: 2, budgetMs: 60_000 })).toEqual({
      deleted: 3,
      logsDeleted: 0,
      more: false,
    });
    expect(await owner.eventIds()).toEqual([]);
  });
});
