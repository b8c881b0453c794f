import { z } from 'zod';
import { api } from '../../../convex/_generated/api.js';
import { decodeCursor, pageOf } from '../paging.js';
import type { UsageStore } from '../port/index.js';
import { ms, type ConvexCaller } from './call.js';

/** Events page newest first by (time, event id). */
const EventKey = z.object({ at: z.number(), eventId: z.string() });

export function convexUsage(call: ConvexCaller): UsageStore {
  return {
    recordRequests: (events) =>
      call.mutation(api.telemetry.recordRequests, { events: events.map((e) => ({ ...e, at: Date.parse(e.at) })) }),
    ingestTelemetry: (input) =>
      call.mutation(api.telemetry.ingest, {
        ...input,
        events: input.events.map((e) => ({ ...e, at: Date.parse(e.at) })),
      }),
    async listUsageEvents({ ownerId, agentId, limit, cursor }) {
      const before = decodeCursor(cursor, EventKey);
      const { items, next } = await call.query(api.telemetry.listEvents, { ownerId, agentId, limit, before });
      return pageOf(items, next);
    },
    listHourlyMetrics: (input) =>
      call.query(api.telemetry.hourly, { ...input, from: ms(input.from), to: ms(input.to) }),
    getUsage: (input) => call.query(api.telemetry.usage, input),
    getUsageByAgent: (input) => call.query(api.telemetry.usageByAgent, input),
    getUsageByEndUser: (input) => call.query(api.telemetry.usageByEndUser, input),
    deleteTelemetryBefore: (input) => call.mutation(api.telemetry.deleteBefore, { ...input, cutoff: ms(input.cutoff) }),
  };
}
