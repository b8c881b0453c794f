import { z } from 'zod';
import { api } from '../../../convex/_generated/api.js';
import type { AuditEntry } from '../../contracts/index.js';
import { decodeCursor, pageOf } from '../paging.js';
import type { AuditStore } from '../port/index.js';
import { fromJsonText, ms, type ConvexCaller } from './call.js';

export function convexAudit(call: ConvexCaller): AuditStore {
  return {
    async appendAudit({ details, now, ...entry }) {
      // JSON text: the details' keys are the caller's and need not be Convex field names
      await call.mutation(api.audit.append, {
        ...entry,
        details: details === undefined ? null : JSON.stringify(details),
        now: ms(now),
      });
    },
    async listAudit(ownerId, page) {
      const before = decodeCursor(page.cursor, z.number().int());
      const { items, next } = await call.query(api.audit.list, { ownerId, limit: page.limit, before });
      return pageOf(
        items.map((e) => ({ ...e, details: fromJsonText(e.details) as AuditEntry['details'] })),
        next,
      );
    },
  };
}
