import type { TelemetryEvent, Tier } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import type { Store } from '../../lib/store/index.js';
import { agentWithDeployment } from './fixtures.js';

const DAY_MS = 24 * 3_600_000;

/** A shim event that happened `daysAgo` days before `now`. */
export const eventDaysAgo = (now: Date, daysAgo: number): TelemetryEvent => ({
  id: newId('req'),
  at: new Date(now.getTime() - daysAgo * DAY_MS).toISOString(),
  kind: 'invocation',
  ok: true,
  computeMs: 10,
});

/** An owner on `tier` with an agent and a deployment that telemetry can be reported for. */
export async function telemetryOwner(store: Store, tier: Tier) {
  const ownerId = newId('usr');
  await store.ensureUser(ownerId, new Date());
  await store.setUserTier({ userId: ownerId, tier, now: new Date() });
  const { agentId, deploymentId } = await agentWithDeployment(store, ownerId, { name: 'r' });
  const ingest = (events: TelemetryEvent[]) => store.ingestTelemetry({ ownerId, agentId, deploymentId, events });
  const eventIds = async () =>
    (await store.listUsageEvents({ ownerId, agentId, limit: 100 })).items.map((e) => e.id).sort();
  return { ownerId, agentId, deploymentId, ingest, eventIds };
}
