import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, type MeteredRequest } from '../lib/contracts/index.js';
import { newId } from '../lib/ids.js';
import { openStore, type Store } from '../lib/store/index.js';
import { agentWithDeployment } from '../test/helpers/fixtures.js';
import { UsageMeter } from './metering.js';

// The usage meter against a real store (PGlite): batched writes, nothing lost on a clean
// shutdown, a store outage ridden out.

let store: Store;
const log = pino({ level: 'silent' });
const ownerId = newId('usr');
let target: { ownerId: string; agentId: string; deploymentId: string };

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  await store.ensureUser(ownerId, new Date());
  target = await agentWithDeployment(store, ownerId, { name: 'm' });
});
afterAll(async () => store?.close());

const request = (at: Date): MeteredRequest => ({
  id: newId('req'),
  at: at.toISOString(),
  ...target,
  runtime: 'local',
  status: 200,
  durationMs: 1,
  inputBytes: 10,
  outputBytes: 20,
  inputTokens: 1,
  outputTokens: 2,
  sessionId: null,
  endUser: null,
  apiKeyId: null,
});
const requestsIn = async (period: string) =>
  (await store.getUsage({ ownerId, period })).reduce((n, u) => n + u.requests, 0);

describe('UsageMeter', () => {
  it('writes in batches off the caller’s path, and a clean close loses nothing', async () => {
    const calls: number[] = [];
    const meter = new UsageMeter(
      { recordRequests: (events) => (calls.push(events.length), store.recordRequests(events)) },
      log,
      { flushEveryMs: 60_000, batchMax: 100 },
    ).start();
    const at = new Date('2026-03-15T12:00:00Z');
    for (let i = 0; i < 1_234; i++) meter.record(request(at));
    await meter.close();
    expect(await requestsIn('2026-03')).toBe(1_234);
    expect(meter.pending).toBe(0);
    expect(Math.max(...calls)).toBeLessThanOrEqual(100);
  });

  it('keeps events while the store is down and writes them when it is back', async () => {
    let down = true;
    const meter = new UsageMeter(
      {
        recordRequests: (events) =>
          down ? Promise.reject(new Error('connection refused')) : store.recordRequests(events),
      },
      log,
      { flushEveryMs: 20, batchMax: 50 },
    ).start();
    const at = new Date('2026-04-15T12:00:00Z');
    for (let i = 0; i < 300; i++) meter.record(request(at));
    await new Promise((r) => setTimeout(r, 150));
    expect(meter.pending).toBe(300);
    down = false;
    await meter.close();
    expect(await requestsIn('2026-04')).toBe(300);
    expect(meter.dropped).toBe(0);
  });

  it('drops a batch the store refuses as invalid (it could never be written) and goes on', async () => {
    let refuse = true;
    const meter = new UsageMeter(
      {
        recordRequests: (events) => {
          if (refuse) {
            refuse = false;
            return Promise.reject(new AppError('validation_failed', 'bad batch'));
          }
          return store.recordRequests(events);
        },
      },
      log,
      { flushEveryMs: 60_000, batchMax: 10 },
    );
    const at = new Date('2026-05-15T12:00:00Z');
    for (let i = 0; i < 25; i++) meter.record(request(at));
    await meter.close();
    expect(await requestsIn('2026-05')).toBe(15);
  });

  it('bounds its buffer when the store stays down, counting what it dropped', async () => {
    const meter = new UsageMeter({ recordRequests: () => Promise.reject(new Error('down')) }, log, {
      flushEveryMs: 60_000,
      bufferMax: 100,
    });
    for (let i = 0; i < 150; i++) meter.record(request(new Date()));
    expect(meter.pending).toBe(100);
    expect(meter.dropped).toBe(50);
    await meter.close(300);
  });
});
