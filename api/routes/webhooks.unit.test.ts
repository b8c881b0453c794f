import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreatedWebhookEndpoint, WebhookDelivery, WebhookEndpoint } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import { WEBHOOK_ENDPOINTS_PER_OWNER } from '../../lib/limits.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { expectError } from '../../test/helpers/http.js';
import { testWebhookSecret } from '../../test/helpers/runtime.js';
import { fakeWorkflows } from '../../test/helpers/workflows.js';

// /v1/webhooks over PGlite, as production runs it (public https only): the signing secret is
// shown once, endpoints are scoped by owner, limited and audited, URLs that would reach inside
// the platform are refused. Deliveries themselves: workflows/webhooks/workflow.test.ts.

let store: Store;
let api: Awaited<ReturnType<typeof apiUnderTest>>;
const tokens: Record<string, string> = {};
const URL = 'https://hooks.example.com/webhost';

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  api = await apiUnderTest(store, fakeWorkflows());
  for (const user of ['alice', 'bob', 'carol']) tokens[user] = await api.token(user);
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

const create = (body: unknown, user = 'alice', headers: Record<string, string> = {}) =>
  api.call('POST', '/v1/webhooks', { token: tokens[user]!, body, headers });
const list = (user = 'alice', query = '') => api.call('GET', `/v1/webhooks${query}`, { token: tokens[user]! });
const remove = (id: string, user = 'alice') => api.call('DELETE', `/v1/webhooks/${id}`, { token: tokens[user]! });
const deliveries = (id: string, user = 'alice', query = '') =>
  api.call('GET', `/v1/webhooks/${id}/deliveries${query}`, { token: tokens[user]! });

describe('POST/GET/DELETE /v1/webhooks: happy', () => {
  it('shows the signing secret once, then lists the endpoint without it, and deletes it', async () => {
    const res = await create({ url: URL, events: ['deployment.live', 'rollback.completed'], description: 'ci' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const created = CreatedWebhookEndpoint.strict().parse(await res.json());
    expect(created).toEqual({
      id: expect.stringMatching(/^whe_/),
      url: URL,
      events: ['deployment.live', 'rollback.completed'],
      description: 'ci',
      createdAt: expect.any(String),
      disabled: false,
      secret: testWebhookSecret(created.id),
    });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const listed = await list();
    expect(listed.status).toBe(200);
    const text = await listed.text();
    expect(text).not.toContain(created.secret.slice(6));
    const page = JSON.parse(text) as { items: unknown[]; nextCursor: string | null };
    const { secret: _shownOnce, ...endpoint } = created;
    expect(page.items.map((i) => WebhookEndpoint.strict().parse(i))).toEqual([endpoint]);
    const noDeliveries = await deliveries(created.id);
    expect(noDeliveries.status).toBe(200);
    expect(await noDeliveries.json()).toEqual({ items: [], nextCursor: null });

    // nowhere else either: not in the audit log, not in the store's rows
    const audit = (await store.listAudit('alice', { limit: 100 })).items.filter((e) => e.targetId === created.id);
    expect(JSON.stringify(audit)).not.toContain(created.secret.slice(6));

    // disabled: no new deliveries, until enabled again
    const patch = (body: unknown, user = 'alice') =>
      api.call('PATCH', `/v1/webhooks/${created.id}`, { token: tokens[user]!, body });
    const disabled = await patch({ disabled: true });
    expect(disabled.status).toBe(200);
    expect(WebhookEndpoint.strict().parse(await disabled.json())).toEqual({ ...endpoint, disabled: true });
    await expectError(await patch({ disabled: 'yes' }), 400, 'validation_failed');
    await expectError(await patch({ url: 'https://elsewhere.example.com' }), 400, 'validation_failed');
    await expectError(await patch({ disabled: false }, 'bob'), 404, 'not_found');
    expect(await (await patch({ disabled: false })).json()).toEqual(endpoint);

    expect((await remove(created.id)).status).toBe(204);
    expect((await list().then((r) => r.json())) as unknown).toEqual({ items: [], nextCursor: null });
    await expectError(await remove(created.id), 404, 'not_found');
    const actions = (await store.listAudit('alice', { limit: 100 })).items
      .filter((e) => e.targetId === created.id)
      .map((e) => [e.action, e.actor]);
    expect(actions).toEqual([
      ['webhook.deleted', 'user:alice'],
      ['webhook.enabled', 'user:alice'],
      ['webhook.disabled', 'user:alice'],
      ['webhook.created', 'user:alice'],
    ]);
  });

  it('pages endpoints newest first, and shows an endpoint’s deliveries in pages', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await create({ url: `${URL}/${i}`, events: ['deployment.failed'] }, 'carol');
      made.push(((await res.json()) as { id: string }).id);
    }
    const first = (await (await list('carol', '?limit=2')).json()) as { items: { id: string }[]; nextCursor: string };
    expect(first.items.map((e) => e.id)).toEqual([made[2], made[1]]);
    const second = (await (await list('carol', `?limit=2&cursor=${first.nextCursor}`)).json()) as {
      items: { id: string }[];
      nextCursor: null;
    };
    expect(second).toEqual({ items: [expect.objectContaining({ id: made[0] })], nextCursor: null });

    for (let i = 0; i < 3; i++)
      await store.recordWebhookDeliveries({
        ownerId: 'carol',
        eventId: newId('evt'),
        type: 'deployment.failed',
        agentId: newId('agt'),
        deploymentId: newId('dep'),
        body: '{}',
        keepPerEndpoint: 100,
        now: new Date(),
      });
    const page = (await (await deliveries(made[0]!, 'carol', '?limit=2')).json()) as {
      items: unknown[];
      nextCursor: string;
    };
    expect(page.items.map((d) => WebhookDelivery.strict().parse(d).status)).toEqual(['pending', 'pending']);
    const rest = (await (await deliveries(made[0]!, 'carol', `?limit=2&cursor=${page.nextCursor}`)).json()) as {
      items: unknown[];
      nextCursor: null;
    };
    expect(rest.items).toHaveLength(1);
    expect(rest.nextCursor).toBeNull();
  });
});

describe('/v1/webhooks: errors', () => {
  it('refuses bad bodies with the error envelope, and creates nothing', async () => {
    const cases: [unknown, string][] = [
      [{ events: ['deployment.live'] }, 'url'],
      [{ url: URL }, 'events'],
      [{ url: URL, events: [] }, 'events: events must name at least one event type'],
      [{ url: URL, events: ['deployment.started'] }, 'events.0'],
      [{ url: URL, events: ['deployment.live', 'deployment.live'] }, 'events: events must not repeat'],
      [{ url: URL, events: ['deployment.live'], secret: 'mine' }, 'only "url", "events" and "description"'],
      [{ url: 'x'.repeat(3000), events: ['deployment.live'] }, 'url: url must be at most 2048 characters'],
      [{ url: 'not a url', events: ['deployment.live'] }, 'url: must be an absolute URL'],
      [{ url: 'http://hooks.example.com/', events: ['deployment.live'] }, 'url: must be https'],
    ];
    for (const [body, message] of cases) {
      const error = await expectError(await create(body, 'bob'), 400, 'validation_failed');
      expect(error.message, JSON.stringify(body)).toContain(message);
    }
    await expectError(
      await api.call('POST', '/v1/webhooks', { token: tokens.bob!, rawBody: '{"url":' }),
      400,
      'validation_failed',
    );
    await expectError(await list('bob', '?limit=1000'), 400, 'validation_failed');
    await expectError(await list('bob', '?cursor=forged'), 400, 'validation_failed');
    expect(await store.listWebhookEndpoints('bob', { limit: 10 })).toEqual({ items: [], nextCursor: null });
  });

  it('refuses URLs that would reach loopback, private or metadata addresses (SSRF), loopback included', async () => {
    for (const url of [
      'https://127.0.0.1/hook',
      'https://localhost/hook',
      'http://127.0.0.1:7233/',
      'https://10.0.0.5/',
      'https://192.168.0.1/',
      'https://169.254.169.254/latest/meta-data/',
      'https://[::1]/',
      'https://[fd12::1]/',
    ]) {
      const res = await create({ url, events: ['deployment.live'] }, 'bob');
      const error = await expectError(res, 400, 'validation_failed');
      expect(error.message, url).toMatch(/private or loopback|must be https/);
    }
  });

  it('takes http to loopback only where the platform allows it (local mode, tests)', async () => {
    const local = await apiUnderTest(store, fakeWorkflows(), { webhookUrlPolicy: { allowLoopback: true } });
    try {
      const token = await local.token('dave');
      const ok = await local.call('POST', '/v1/webhooks', {
        token,
        body: { url: 'http://127.0.0.1:4000/hook', events: ['deployment.live'] },
      });
      expect(ok.status).toBe(201);
      const privateRange = await local.call('POST', '/v1/webhooks', {
        token,
        body: { url: 'http://10.0.0.5/hook', events: ['deployment.live'] },
      });
      await expectError(privateRange, 400, 'validation_failed');
    } finally {
      await local.close();
    }
  });

  it(`holds an owner to ${WEBHOOK_ENDPOINTS_PER_OWNER} endpoints`, async () => {
    const owner = 'erin';
    tokens[owner] = await api.token(owner);
    for (let i = 0; i < WEBHOOK_ENDPOINTS_PER_OWNER; i++)
      expect((await create({ url: `${URL}/${i}`, events: ['deployment.live'] }, owner)).status).toBe(201);
    const error = await expectError(await create({ url: URL, events: ['deployment.live'] }, owner), 409, 'conflict');
    expect(error.message).toContain(`at most ${WEBHOOK_ENDPOINTS_PER_OWNER} webhook endpoints`);
  });

  it('refuses Idempotency-Key, whose stored answer would hold the secret', async () => {
    const error = await expectError(
      await create({ url: URL, events: ['deployment.live'] }, 'bob', { 'idempotency-key': 'k1' }),
      400,
      'validation_failed',
    );
    expect(error.message).toContain('Idempotency-Key');
  });
});

describe('/v1/webhooks: security', () => {
  it('answers 404 for another owner’s endpoint and its deliveries, and changes nothing', async () => {
    const res = await create({ url: URL, events: ['deployment.live'] }, 'alice');
    const { id } = (await res.json()) as { id: string };
    await expectError(await remove(id, 'bob'), 404, 'not_found');
    await expectError(await deliveries(id, 'bob'), 404, 'not_found');
    expect(((await (await list('bob')).json()) as { items: unknown[] }).items).toEqual([]);
    expect(((await (await list('alice')).json()) as { items: { id: string }[] }).items.map((e) => e.id)).toContain(id);
  });

  it('refuses missing and forged credentials', async () => {
    await expectError(await api.call('GET', '/v1/webhooks'), 401, 'unauthorized');
    await expectError(
      await api.call('POST', '/v1/webhooks', { token: 'forged', body: { url: URL, events: ['deployment.live'] } }),
      401,
      'unauthorized',
    );
    await expectError(await api.call('DELETE', '/v1/webhooks/whe_x', { token: 'forged' }), 401, 'unauthorized');
  });
});
