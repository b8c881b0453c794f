import { z } from 'zod';
import { api } from '../../../convex/_generated/api.js';
import { decodeCursor, pageOf } from '../paging.js';
import type { LogStore } from '../port/index.js';
import { ms, type ConvexCaller } from './call.js';

/** A page of lines, newest first, by seq. */
const LineKey = z.object({ seq: z.number().int().nonnegative() });

export function convexLogs(call: ConvexCaller): LogStore {
  return {
    appendLogs: ({ ownerId, agentId, deploymentId, lines, dropped }) =>
      call.mutation(api.logs.append, {
        ownerId,
        agentId,
        deploymentId,
        dropped,
        lines: lines.map((l) => ({ ...l, at: Date.parse(l.at) })),
      }),
    async listLogs({ ownerId, agentId, limit, cursor }) {
      const before = decodeCursor(cursor, LineKey)?.seq;
      const { items, next } = await call.query(api.logs.list, {
        ownerId,
        agentId,
        limit,
        ...(before === undefined ? {} : { before }),
      });
      return pageOf(items, next === null ? null : { seq: next });
    },
    listLogsAfter: ({ ownerId, agentId, after, limit }) =>
      call.query(api.logs.listAfter, { ownerId, agentId, after, limit }),
    deleteLogsBefore: ({ tier, cutoff, limit }) =>
      call.mutation(api.logs.deleteBefore, { tier, cutoff: ms(cutoff), limit }),
  };
}
