import { z } from 'zod';
import { api } from '../../../convex/_generated/api.js';
import { decodeCursor, pageOf } from '../paging.js';
import type { DeploymentStore } from '../port/index.js';
import { ms, type ConvexCaller } from './call.js';

export function convexDeployments(call: ConvexCaller): DeploymentStore {
  return {
    createDeployment({ id, source: { type, entry, files }, now, ...rest }) {
      return call.mutation(api.deployments.create, {
        ...rest,
        deploymentId: id,
        // a list, not a record: file paths need not be Convex field names
        source: { type, entry, files: Object.entries(files).map(([path, text]) => ({ path, text })) },
        now: ms(now),
      });
    },
    getDeployment: (ownerId, deploymentId) => call.query(api.deployments.get, { ownerId, deploymentId }),
    async getDeploymentSource(ownerId, deploymentId) {
      const { type, entry, files } = await call.query(api.deployments.source, { ownerId, deploymentId });
      return { type, entry, files: Object.fromEntries(files.map((f) => [f.path, f.text])) };
    },
    async listDeployments(ownerId, agentId, page) {
      const before = decodeCursor(page.cursor, z.number().int());
      const { items, next } = await call.query(api.deployments.list, { ownerId, agentId, limit: page.limit, before });
      return pageOf(items, next);
    },
    transitionDeployment: (input) => call.mutation(api.deployments.transition, { ...input, now: ms(input.now) }),
    async recordDeploymentStep(input) {
      await call.mutation(api.deployments.recordStep, input);
    },
  };
}
