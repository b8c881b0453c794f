import { z } from 'zod';
import { api } from '../../../convex/_generated/api.js';
import { decodeCursor, pageOf } from '../paging.js';
import type { AgentStore } from '../port/index.js';
import { auditArg, ms, type ConvexCaller } from './call.js';

export function convexAgents(call: ConvexCaller): AgentStore {
  return {
    createAgent: ({ id, now, audit, ...agent }) =>
      call.mutation(api.agents.create, { ...agent, agentId: id, now: ms(now), ...auditArg(audit) }),
    getAgent: (ownerId, agentId) => call.query(api.agents.get, { ownerId, agentId }),
    findAgent: (ownerId, agentId) => call.query(api.agents.find, { ownerId, agentId }),
    setAgentRuntime: ({ audit, ...input }) =>
      call.mutation(api.agents.setRuntime, { ...input, now: ms(input.now), ...auditArg(audit) }),
    beginRollback: (input) => call.mutation(api.agents.beginRollback, { ...input, now: ms(input.now) }),
    async endRollback(input) {
      await call.mutation(api.agents.endRollback, { ...input, now: ms(input.now) });
    },
    async listAgents(ownerId, page) {
      const before = decodeCursor(page.cursor, z.string());
      const { items, next } = await call.query(api.agents.list, { ownerId, limit: page.limit, before });
      return pageOf(items, next);
    },
    renameAgent: ({ audit, ...input }) =>
      call.mutation(api.agents.rename, { ...input, now: ms(input.now), ...auditArg(audit) }),
    deleteAgent: ({ audit, ...input }) =>
      call.mutation(api.agents.remove, { ...input, now: ms(input.now), ...auditArg(audit) }),
    restoreAgent: ({ audit, ...input }) =>
      call.mutation(api.agents.restore, { ...input, now: ms(input.now), ...auditArg(audit) }),
    switchActiveDeployment: ({ audit, ...input }) =>
      call.mutation(api.agents.switchActive, { ...input, now: ms(input.now), ...auditArg(audit) }),
    getServingTarget: (ownerId, agentId) => call.query(api.agents.servingTarget, { ownerId, agentId }),
  };
}
