import { z } from 'zod';
import { api } from '../../../convex/_generated/api.js';
import { decodeCursor, pageOf } from '../paging.js';
import type { DeploymentStore } from '../port/index.js';
import { auditArg, ms, type ConvexCaller } from './call.js';

export function convexDeployments(call: ConvexCaller): DeploymentStore {
  return {
    createDeployment({ id, source, now, ...rest }) {
      return call.mutation(api.deployments.create, {
        ...rest,
        deploymentId: id,
        source:
          source.type === 'files'
            ? // a list, not a record: file paths need not be Convex field names
              { ...source, files: Object.entries(source.files).map(([path, text]) => ({ path, text })) }
            : source,
        now: ms(now),
      });
    },
    getDeployment: (ownerId, deploymentId) => call.query(api.deployments.get, { ownerId, deploymentId }),
    findDeploymentOwner: (deploymentId) => call.query(api.deployments.ownerOf, { deploymentId }),
    async getDeploymentSource(ownerId, deploymentId) {
      const source = await call.query(api.deployments.source, { ownerId, deploymentId });
      if (source.type !== 'files') return source;
      return { ...source, files: Object.fromEntries(source.files.map((f) => [f.path, f.text])) };
    },
    async listDeployments(ownerId, agentId, page) {
      const before = decodeCursor(page.cursor, z.number().int());
      const { items, next } = await call.query(api.deployments.list, { ownerId, agentId, limit: page.limit, before });
      return pageOf(items, next);
    },
    transitionDeployment: ({ audit, ...input }) =>
      call.mutation(api.deployments.transition, { ...input, now: ms(input.now), ...auditArg(audit) }),
    async recordDeploymentStep(input) {
      await call.mutation(api.deployments.recordStep, input);
    },
    async recordDeploymentBuild(input) {
      await call.mutation(api.deployments.recordBuild, input);
    },
  };
}
