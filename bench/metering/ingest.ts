// Signed telemetry ingestion through the api, over real HTTP: shim batches of 100 events,
// signed per deployment, posted by several senders at once, on PGlite and on PostgreSQL.
// Every batch is checked as the shim's would be (window, deployment, HMAC, batch, agent),
// then stored, deduplicated and aggregated in one transaction.
import { randomBytes } from 'node:crypto';
import { Agent as HttpAgent, request } from 'undici';
import { telemetryKeys } from '../../lib/auth/platform-keys.js';
import type { TelemetryEvent } from '../../lib/contracts/index.js';
import { listen } from '../../lib/http/serve.js';
import { newId } from '../../lib/ids.js';
import { openStore, type Store, type StoreConfig } from '../../lib/store/index.js';
import { telemetryHeaders } from '../../lib/telemetry/signing.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { agentWithDeployment } from '../../test/helpers/fixtures.js';
import { fakeWorkflows } from '../../test/helpers/workflows.js';

export interface IngestFigures {
  store: string;
  events: number;
  batchSize: number;
  senders: number;
  seconds: number;
  eventsPerSecond: number;
  refused: number;
}

export async function measureIngestion(opts: {
  name: string;
  config: StoreConfig;
  batches?: number;
  batchSize?: number;
  senders?: number;
  deployments?: number;
}): Promise<IngestFigures> {
  const batches = opts.batches ?? 600;
  const batchSize = opts.batchSize ?? 100;
  const senders = opts.senders ?? 16;
  const store: Store = await openStore(opts.config);
  const key = telemetryKeys(randomBytes(32));
  const api = await apiUnderTest(store, fakeWorkflows(), { telemetryKey: key });
  const server = await listen(api.app.fetch, 0);
  const dispatcher = new HttpAgent({ connections: senders, keepAliveTimeout: 30_000 });
  try {
    // a few tenants, each with a deployment reporting
    const targets: { deploymentId: string; agentId: string }[] = [];
    for (let i = 0; i < (opts.deployments ?? 8); i++) {
      const ownerId = newId('usr');
      await store.ensureUser(ownerId, new Date());
      targets.push(await agentWithDeployment(store, ownerId, { name: 'b' }));
    }
    const base = Date.now() - 3_600_000;
    const batchOf = (n: number) => {
      const target = targets[n % targets.length]!;
      const events: TelemetryEvent[] = Array.from({ length: batchSize }, (_, i) => ({
        id: `inv:${n}-${i}:req_bench`,
        at: new Date(base + ((n * batchSize + i) % 3_600_000)).toISOString(),
        kind: i % 10 === 0 ? 'background' : 'invocation',
        ok: i % 17 !== 0,
        computeMs: i % 50,
        inputTokens: i % 10 === 0 ? 10 : 0,
        outputTokens: i % 10 === 0 ? 20 : 0,
      }));
      const body = JSON.stringify({ agentId: target.agentId, events });
      return {
        body,
        headers: telemetryHeaders({ key: key(target.deploymentId), deploymentId: target.deploymentId, body }),
      };
    };
    const post = async (n: number) => {
      const b = batchOf(n);
      const res = await request(`${server.url}/v1/telemetry`, {
        method: 'POST',
        headers: b.headers,
        body: b.body,
        dispatcher,
      });
      await res.body.arrayBuffer();
      return res.statusCode;
    };
    // warm up (first queries, JIT), then measure
    for (let i = 0; i < senders; i++) await post(batches + i);
    let next = 0;
    let refused = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: senders }, async () => {
        while (next < batches) {
          const n = next++;
          if ((await post(n)) !== 202) refused++;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const events = batches * batchSize;
    return { store: opts.name, events, batchSize, senders, seconds, eventsPerSecond: events / seconds, refused };
  } finally {
    await dispatcher.close();
    await server.close();
    await api.close();
    await store.close();
  }
}

if (import.meta.filename === process.argv[1]) {
  console.log(await measureIngestion({ name: 'pglite', config: { kind: 'pglite', dataDir: undefined } }));
}
