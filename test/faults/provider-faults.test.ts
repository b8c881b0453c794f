import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { scriptNameFor } from '../../lib/runtime/providers/cloudflare.js';
import { startDevServer, type DevServer } from '../../lib/temporal/dev-server.js';
import { startFakeAgentCore, type FakeAgentCore } from '../fakes/agentcore/server.js';
import { startFakeCloudflare, type FakeCloudflare } from '../fakes/cloudflare/server.js';
import { apiClient, seconds, waitFor } from '../helpers/faults.js';
import { echoVersion } from '../helpers/fixtures.js';
import { startSplitPlatform, type SplitPlatform } from '../helpers/platform.js';
import { freePort } from '../helpers/ports.js';
import { connectTestPostgres } from '../helpers/postgres.js';

// Deploys to Cloudflare (the fake, which speaks its wire format and runs the code in workerd)
// while it fails: transient 5xx and 429 on the upload and on activation, an upload that takes
// effect but whose answer never comes (the SDK times out after 30 s), an upload outage longer
// than the deploy's retry budget, and a version whose Worker answers 5xx (its health check
// fails). Transient faults are retried and the deploy goes live with one version; persistent
// ones fail the deploy, compensation leaves no version of it behind, and the agent's previous
// deployment keeps serving. AgentCore (its fake) throttles and fails its S3 upload, runtime
// creation and endpoint creation past the AWS SDK's own 3 attempts: the deploy still goes live.
// The scenarios run at once, each on an agent of its own.
const server = await connectTestPostgres('the provider fault suite');

/** The deploy's provider calls give up after 10 attempts, 1 s to 30 s apart: about 2.5 minutes. */
const DEPLOY_ENDS_MS = 240_000;

const CODE_BUCKET = 'webhost-code-faults';

describe.runIf(server !== null)('Cloudflare and AgentCore failing under deploys', () => {
  let temporal: DevServer;
  let cloudflare: FakeCloudflare;
  let agentcore: FakeAgentCore;
  let platform: SplitPlatform;

  beforeAll(async () => {
    temporal = await startDevServer({ port: await freePort(), uiPort: null });
    cloudflare = await startFakeCloudflare({ maxRunning: 12 });
    agentcore = await startFakeAgentCore({ buckets: [CODE_BUCKET], maxRunning: 2 });
    platform = await startSplitPlatform({
      databaseUrl: await server!.createDatabase('webhost_faults_provider'),
      temporalAddress: temporal.address,
      workers: 1,
      gateways: 0,
      env: {
        CLOUDFLARE_API_TOKEN: cloudflare.apiToken,
        CLOUDFLARE_ACCOUNT_ID: cloudflare.accountId,
        CLOUDFLARE_BASE_URL: cloudflare.apiUrl,
        CLOUDFLARE_WORKERS_URL: cloudflare.workersUrl,
        ...agentcore.env(),
        WEBHOST_AGENTCORE_ROLE_ARN: 'arn:aws:iam::123456789012:role/webhost-agentcore',
        WEBHOST_AGENTCORE_CODE_BUCKET: CODE_BUCKET,
        // AgentCore is open to enterprise
        WEBHOST_DEFAULT_TIER: 'enterprise',
      },
    });
  }, 180_000);
  afterAll(async () => {
    await platform?.stop();
    await cloudflare?.close();
    await agentcore?.close();
    await temporal?.stop();
    await server?.close();
  });

  it('retries transient faults to live; fails persistent ones cleanly, leaving no version behind', async () => {
    const api = apiClient(platform.apiUrl, await platform.token('provider-faults'));
    const agent = (name: string, runtime = 'cloudflare') => api<Agent>('POST', '/v1/agents', { name, runtime });
    const deploy = async (agentId: string, version: string) =>
      (
        await api<{ deploymentId: string }>('POST', `/v1/agents/${agentId}/deployments`, {
          source: echoVersion(version),
        })
      ).deploymentId;
    const ended = async (deploymentId: string) => {
      let d!: Deployment;
      await waitFor(
        `deployment ${deploymentId} to end`,
        async () =>
          ['live', 'failed', 'canceled'].includes((d = await api('GET', `/v1/deployments/${deploymentId}`)).status),
        DEPLOY_ENDS_MS,
        500,
      );
      return d;
    };
    const live = async (agentId: string, version: string) => {
      const d = await ended(await deploy(agentId, version));
      expect(d.status).toBe('live');
      return d;
    };
    const path = (agentId: string, tail: string) => new RegExp(`/workers/scripts/${scriptNameFor(agentId)}/${tail}$`);
    const calls = (agentId: string, method: string, tail: string) =>
      cloudflare.requests.filter((r) => r.method === method && path(agentId, tail).test(r.path));
    const versionsOf = (agentId: string, deploymentId: string) =>
      cloudflare.versionsOf(scriptNameFor(agentId)).filter((v) => v.annotations['workers/tag'] === deploymentId);

    const [flakyUpload, flakyActivate, lostAnswer, uploadOutage, failingWorker] = await Promise.all(
      ['flaky-upload', 'flaky-activate', 'lost-answer', 'upload-outage', 'failing-worker'].map((n) => agent(n)),
    );
    const flakyAws = await agent('flaky-aws', 'agentcore');
    // the agents that will fail have a live deployment first, which must keep serving
    const [outagePrevious, workerPrevious] = await Promise.all([
      live(uploadOutage!.id, 'before-outage'),
      live(failingWorker!.id, 'before-failure'),
    ]);

    cloudflare.failNext(1, 500, { method: 'POST', path: path(flakyUpload!.id, 'versions') });
    cloudflare.failNext(1, 503, { method: 'POST', path: path(flakyUpload!.id, 'versions') });
    cloudflare.failNext(1, 429, { method: 'POST', path: path(flakyUpload!.id, 'versions') });
    cloudflare.failNext(2, 502, { method: 'POST', path: path(flakyActivate!.id, 'deployments') });
    cloudflare.holdNext(1, 40_000, { method: 'POST', path: path(lostAnswer!.id, 'versions') });
    const endOutage = cloudflare.failNext(Infinity, 503, { method: 'POST', path: path(uploadOutage!.id, 'versions') });
    const endWorkerFailure = cloudflare.failWorker(scriptNameFor(failingWorker!.id), 500);
    // four in a row: the SDK's own three attempts fail, the activity's retry gets through
    agentcore.failNext(4, { operation: 'PutObject', status: 503, type: 'SlowDown' });
    agentcore.failNext(4, { operation: 'CreateAgentRuntime', status: 500, type: 'InternalServerException' });
    agentcore.failNext(4, { operation: 'CreateAgentRuntimeEndpoint', status: 429, type: 'ThrottlingException' });

    const startedAt = Date.now();
    const ids = {
      flakyUpload: await deploy(flakyUpload!.id, 'flaky-upload'),
      flakyActivate: await deploy(flakyActivate!.id, 'flaky-activate'),
      lostAnswer: await deploy(lostAnswer!.id, 'lost-answer'),
      uploadOutage: await deploy(uploadOutage!.id, 'outage'),
      failingWorker: await deploy(failingWorker!.id, 'failing'),
      flakyAws: await deploy(flakyAws.id, 'flaky-aws'),
    };
    const took: Record<string, number> = {};
    const [d1, d2, d3, d4, d5, d6] = await Promise.all(
      Object.entries(ids).map(async ([name, id]) => {
        const d = await ended(id);
        took[name] = Date.now() - startedAt;
        return d;
      }),
    );
    endOutage();
    endWorkerFailure();

    // transient: retried, live, one version each
    for (const [d, a] of [
      [d1, flakyUpload],
      [d2, flakyActivate],
      [d3, lostAnswer],
      [d6, flakyAws],
    ] as const) {
      expect(d!.status, `${a!.name}: ${JSON.stringify(d!.error)}`).toBe('live');
      if (a!.runtime === 'cloudflare') expect(versionsOf(a!.id, d!.id)).toHaveLength(1);
      expect((await api<Agent>('GET', `/v1/agents/${a!.id}`)).activeDeploymentId).toBe(d!.id);
    }
    const uploads = calls(flakyUpload!.id, 'POST', 'versions').map((r) => r.status);
    expect(uploads).toEqual([500, 503, 429, 200]);
    const activations = calls(flakyActivate!.id, 'POST', 'deployments').map((r) => r.status);
    expect(activations.slice(0, 2)).toEqual([502, 502]);
    expect(activations.at(-1)).toBe(200);
    // the upload that took effect without an answer was found by the retry, not made again
    const lost = calls(lostAnswer!.id, 'POST', 'versions').map((r) => r.status);
    expect(lost).toEqual([0]);

    // persistent: failed, nothing of theirs left at Cloudflare, the previous deployment serving
    expect(d4!.status).toBe('failed');
    expect(d4!.error?.message).toMatch(/^create_version:/);
    expect(d5!.status).toBe('failed');
    expect(d5!.error?.message).toMatch(/^health_check:/);
    let leftBehind = 0;
    for (const [d, a, previous] of [
      [d4, uploadOutage, outagePrevious],
      [d5, failingWorker, workerPrevious],
    ] as const) {
      leftBehind += versionsOf(a!.id, d!.id).length;
      expect(versionsOf(a!.id, d!.id), `${a!.name}'s versions of the failed deploy`).toEqual([]);
      expect((await api<Agent>('GET', `/v1/agents/${a!.id}`)).activeDeploymentId).toBe(previous.id);
      const serving = cloudflare.activeDeployment(scriptNameFor(a!.id))!.versions.find((v) => v.percentage === 100)!;
      expect(
        cloudflare.versionsOf(scriptNameFor(a!.id)).find((v) => v.id === serving.version_id)!.annotations[
          'workers/tag'
        ],
      ).toBe(previous.id);
    }
    const awsCalls = (op: string) => agentcore.calls.filter((c) => c === op).length;
    // every injected AWS fault was met, and a call after them succeeded
    for (const op of ['PutObject', 'CreateAgentRuntime', 'CreateAgentRuntimeEndpoint'])
      expect(awsCalls(op), op).toBeGreaterThanOrEqual(5);
    const outageUploads = calls(uploadOutage!.id, 'POST', 'versions').filter((r) => r.status === 503).length;

    console.log(
      `provider-faults: flaky upload live after ${uploads.length} attempts (${uploads.join(', ')}) in ${seconds(took.flakyUpload!)}; ` +
        `flaky activation live after ${activations.length} deployment calls (${activations.join(', ')}) in ${seconds(took.flakyActivate!)}; ` +
        `lost upload answer live in ${seconds(took.lostAnswer!)} with ${lost.length} upload; ` +
        `upload outage failed after ${outageUploads} attempts (all 503) in ${seconds(took.uploadOutage!)}; ` +
        `failing Worker failed its health check in ${seconds(took.failingWorker!)}, ${leftBehind} versions left behind; ` +
        `AgentCore live in ${seconds(took.flakyAws!)} after ${awsCalls('PutObject')} S3 uploads, ` +
        `${awsCalls('CreateAgentRuntime')} CreateAgentRuntime and ${awsCalls('CreateAgentRuntimeEndpoint')} CreateAgentRuntimeEndpoint calls (4 of each failed)`,
    );
  }, 330_000);
});
