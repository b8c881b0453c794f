import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { temporalCliPath } from '../../lib/temporal/dev-server.js';
import { echoVersion, UNHEALTHY_AGENT } from '../helpers/fixtures.js';
import { jsonApi } from '../helpers/http.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';

// The README's runbook ("Runbook: stuck work in Temporal"), followed as written: every command
// in its shell blocks runs against a running platform with the ids filled in, through the
// Temporal CLI the platform uses, and what each shows is checked. Change a command there and
// this runs the new one.

const root = join(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### Runbook: stuck work in Temporal'), readme.indexOf('\n## Billing'));
/** Each command of the section's ```sh blocks, its comment cut off. */
const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1]!.split('\n'))
  .map((line) => line.replace(/\s+#.*$/, '').trim())
  .filter(Boolean);
const OWNER = 'alice'; // the runbook's example owner

let platform: RunningPlatform;
let token: string;
const run = promisify(execFile);

beforeAll(async () => {
  platform = await startPlatform();
  token = await platform.token(OWNER);
});
afterAll(async () => platform?.stop());

const api = jsonApi(() => ({ url: platform.apiUrl, token }));

async function waitFor(id: string, until: (d: Deployment & { currentStep: string | null }) => boolean) {
  let d!: Deployment & { currentStep: string | null };
  await expect
    .poll(async () => until((d = (await api<typeof d>('GET', `/v1/deployments/${id}`)).body)), {
      timeout: 60_000,
      interval: 200,
    })
    .toBe(true);
  return d;
}

/** Runs the README's commands that start with `prefix`, ids filled in, as a shell would; their outputs. */
async function follow(prefix: string, ids: { agentId: string; deploymentId: string }): Promise<string[]> {
  const chosen = commands.filter((c) => c.startsWith(prefix));
  expect(chosen.length, `the runbook has "${prefix}" commands`).toBeGreaterThan(0);
  const outputs: string[] = [];
  for (const command of chosen) {
    const filled = command
      .replaceAll('agt_…', ids.agentId)
      .replaceAll('dep_…', ids.deploymentId)
      .replaceAll('"…"', '"runbook test"')
      .replaceAll('http://127.0.0.1:3000', platform.apiUrl);
    const { stdout } = await run('sh', ['-c', filled], {
      env: {
        ...process.env,
        PATH: `${dirname(temporalCliPath())}:${process.env.PATH}`,
        TEMPORAL_ADDRESS: `127.0.0.1:${platform.ports.temporal}`,
      },
      timeout: 30_000,
    });
    outputs.push(stdout);
  }
  return outputs;
}

describe('the operator runbook, as written in the README', () => {
  let agent: Agent;
  let live: Deployment;
  let stuck: Deployment;

  it('finds a deploy in flight by kind, agent and deployment, and reads its progress in clear', async () => {
    expect(commands.every((c) => c.startsWith('temporal '))).toBe(true);
    agent = (await api<Agent>('POST', '/v1/agents', { name: 'runbook', runtime: 'local' })).body;
    const first = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, {
      source: echoVersion('v1'),
    });
    live = await waitFor(first.body.deploymentId, (d) => d.status === 'live');
    // a deploy that stays in its health check for a while (the agent answers /ping with 500)
    const second = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, {
      source: UNHEALTHY_AGENT,
    });
    stuck = await waitFor(second.body.deploymentId, (d) => d.currentStep === 'health_check');
    const ids = { agentId: agent.id, deploymentId: stuck.id };

    // visibility follows the workflow within a second or so
    await expect
      .poll(
        async () => (await follow('temporal workflow list', ids)).map((out) => out.includes(`deploy-${stuck.id}`)),
        {
          timeout: 15_000,
          interval: 500,
        },
      )
      .toEqual(
        commands
          .filter((c) => c.startsWith('temporal workflow list'))
          // the in-flight, agent and deployment queries find it; the owner's failures do not (yet)
          .map((c) => !c.includes('Failed')),
      );
    const [query] = await follow('temporal workflow query', ids);
    const [show] = await follow('temporal workflow show', ids);
    if (query === undefined || show === undefined) throw new Error('the runbook lost its query or show command');
    // the CLI prints the decoded answer as JSON
    const progress = JSON.parse(/\{.*\}/.exec(query)?.[0] ?? 'null') as unknown;
    expect(progress).toMatchObject({ deploymentId: stuck.id, step: 'health_check', status: 'deploying' });
    expect(query).not.toContain('binary/encrypted');
    // the history reads in clear too: the deploy's input is plain JSON naming its deployment and owner
    expect(show).not.toContain('binary/encrypted');
    const history = JSON.parse(show) as {
      events: { workflowExecutionStartedEventAttributes?: { input: { payloads: { data: string }[] } } }[];
    };
    const input = history.events[0]!.workflowExecutionStartedEventAttributes!.input.payloads[0]!;
    expect(JSON.parse(Buffer.from(input.data, 'base64').toString())).toMatchObject({
      deploymentId: stuck.id,
      agentId: agent.id,
      ownerId: OWNER,
    });
  });

  it('cancels the stuck deploy: it is canceled and the previous deployment keeps serving', async () => {
    await follow('temporal workflow cancel', { agentId: agent.id, deploymentId: stuck.id });
    const canceled = await waitFor(stuck.id, (d) => ['canceled', 'failed', 'live'].includes(d.status));
    expect(canceled.status).toBe('canceled');
    expect((await api<Agent>('GET', `/v1/agents/${agent.id}`)).body.activeDeploymentId).toBe(live.id);
    const res = await fetch(`${platform.gatewayUrl}/v1/agents/${agent.id}/invoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'still there?' }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { deploymentId: string }).deploymentId).toBe(live.id);
  });

  it('lists, pauses and triggers the schedules', async () => {
    const ids = { agentId: agent.id, deploymentId: stuck.id };
    const [list] = await follow('temporal schedule list', ids);
    expect(list).toContain('retention-daily');
    expect(list).toContain('billing-close-monthly');
    await follow('temporal schedule toggle', ids);
    await follow('temporal schedule trigger', ids);
    const env = { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${platform.ports.temporal}` };
    const describe = JSON.parse(
      (
        await run(temporalCliPath(), ['schedule', 'describe', '--schedule-id', 'retention-daily', '-o', 'json'], {
          env,
        })
      ).stdout,
    ) as { schedule: { state: { paused?: boolean; notes?: string } } };
    expect(describe.schedule.state).toMatchObject({ paused: true, notes: 'runbook test' });
    // the trigger started the monthly close now
    await expect
      .poll(
        async () =>
          (
            await run(
              temporalCliPath(),
              ['workflow', 'list', '--query', "WorkflowKind='billing-close'", '-o', 'json'],
              { env },
            )
          ).stdout.includes('billing-close'),
        { timeout: 15_000, interval: 500 },
      )
      .toBe(true);
  });
});
