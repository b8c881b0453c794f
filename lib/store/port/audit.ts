import { z } from 'zod';
import { Id, type AuditEntry, type Page, type PageQuery } from '../../contracts/index.js';
import { Instant, PageArgs, Short, type Rules } from './rules.js';

/** The audit log: who did what to which resource. */
export interface AuditStore {
  appendAudit(input: AppendAuditInput): Promise<void>;
  /** Newest first. */
  listAudit(ownerId: string, page: PageQuery): Promise<Page<AuditEntry>>;
}

export type AppendAuditInput = Omit<AuditEntry, 'id' | 'at' | 'details'> & {
  details?: Record<string, unknown>;
  now: Date;
};

/**
 * An audit entry that a change carries, written in the same transaction as the change and
 * only when the change happens (a repeat of it writes none); its owner and time are the change's.
 */
export interface AuditNote {
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  details?: Record<string, unknown>;
}

const Details = z
  .record(z.string(), z.unknown())
  .refine((d) => JSON.stringify(d).length <= 8192, 'details larger than 8 KiB');

export const AuditNoteRule = z.object({
  actor: Short(128),
  action: Short(128),
  targetType: Short(64),
  targetId: Short(128),
  details: Details.optional(),
});

export const auditRules: Rules<AuditStore> = {
  appendAudit: z.tuple([
    z.object({
      ownerId: Id,
      actor: Short(128),
      action: Short(128),
      targetType: Short(64),
      targetId: Short(128),
      details: Details.optional(),
      now: Instant,
    }),
  ]),
  listAudit: z.tuple([Id, PageArgs]),
};
