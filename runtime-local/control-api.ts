import { Hono } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { ProviderError } from '../lib/runtime/provider.js';
import type { LocalRuntimeHost } from './host.js';

const Id = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/)
  .max(64);

const CreateVersionBody = z.object({
  bundle: z.object({
    mainModule: z.string().min(1),
    modules: z.record(z.string(), z.string()),
    durableObjectClasses: z.array(z.string().regex(/^[A-Za-z_$][A-Za-z0-9_$]*$/)),
  }),
  vars: z.record(z.string(), z.string()).default({}),
  platformBindings: z.record(z.string(), z.string()).default({}),
});
const Ref = z.object({ ref: z.string().max(140) });

/**
 * The control API of the local runtime, the way the Cloudflare API is for Workers: the
 * platform uploads versions, activates them, sets secrets. Only the holder of the control
 * token may call it (agents run on the same loopback and must not).
 */
export function createControlApi(host: LocalRuntimeHost, token: string) {
  return new Hono()
    .use('*', bearerAuth({ token }))
    .onError((err, c) => {
      if (err instanceof ProviderError) {
        return c.json(
          { error: { kind: err.kind, type: err.type, message: err.message } },
          err.kind === 'permanent' ? 422 : 503,
        );
      }
      if ('getResponse' in err && typeof err.getResponse === 'function') return err.getResponse() as Response;
      console.error('local runtime: unexpected error', err);
      return c.json({ error: { kind: 'retryable', type: 'Internal', message: 'local runtime internal error' } }, 500);
    })
    .get('/healthz', (c) => c.json({ ok: true }))
    .put(
      '/agents/:agentId/versions/:deploymentId',
      zValidator('param', z.object({ agentId: Id, deploymentId: Id })),
      zValidator('json', CreateVersionBody),
      async (c) => {
        const { agentId, deploymentId } = c.req.valid('param');
        const body = c.req.valid('json');
        const { bundle, vars, platformBindings } = body;
        return c.json(await host.createVersion({ agentId, deploymentId, bundle, vars, platformBindings }), 201);
      },
    )
    .delete(
      '/agents/:agentId/versions/:ref',
      zValidator('param', z.object({ agentId: Id, ref: z.string().max(140) })),
      async (c) => {
        const { agentId, ref } = c.req.valid('param');
        await host.removeVersion(agentId, ref);
        return c.body(null, 204);
      },
    )
    .get('/agents/:agentId/versions', zValidator('param', z.object({ agentId: Id })), async (c) =>
      c.json(await host.listVersions(c.req.valid('param').agentId)),
    )
    .put(
      '/agents/:agentId/active',
      zValidator('param', z.object({ agentId: Id })),
      zValidator('json', z.object({ versionRef: z.string().max(140) })),
      async (c) => {
        await host.activate(c.req.valid('param').agentId, c.req.valid('json').versionRef);
        return c.body(null, 204);
      },
    )
    .get('/versions/:ref/endpoint', zValidator('param', Ref), async (c) => {
      return c.json({ url: await host.endpoint(c.req.valid('param').ref) });
    })
    .get('/versions/:ref/health', zValidator('param', Ref), async (c) =>
      c.json(await host.healthCheck(c.req.valid('param').ref)),
    )
    .get('/versions/:ref/status', zValidator('param', Ref), (c) => c.json(host.status(c.req.valid('param').ref)))
    .put(
      '/agents/:agentId/secrets/:name',
      zValidator(
        'param',
        z.object({
          agentId: Id,
          name: z
            .string()
            .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
            .max(128),
        }),
      ),
      zValidator('json', z.object({ value: z.string() })),
      async (c) => {
        const { agentId, name } = c.req.valid('param');
        await host.setSecret(agentId, name, c.req.valid('json').value);
        return c.body(null, 204);
      },
    )
    .delete(
      '/agents/:agentId/secrets/:name',
      zValidator('param', z.object({ agentId: Id, name: z.string().max(128) })),
      async (c) => {
        const { agentId, name } = c.req.valid('param');
        await host.setSecret(agentId, name, null);
        return c.body(null, 204);
      },
    )
    .delete('/agents/:agentId', zValidator('param', z.object({ agentId: Id })), async (c) => {
      await host.destroyAgent(c.req.valid('param').agentId);
      return c.body(null, 204);
    });
}
