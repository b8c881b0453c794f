import type { Store } from '../lib/store/index.js';
import { storeCall } from './calls.js';

export interface AuditActivityDeps {
  store: Store;
}

export interface AppendAuditInput {
  ownerId: string;
  /** `user:<id>` for what a user asked for. */
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  details?: Record<string, unknown>;
  /** Workflow time, so a retry records the same instant. */
  now: string;
}

export interface AppendAuditResult {
  at: string;
}

/** The audit log: what a workflow carried out, appended when it is done. */
export function createAuditActivities(deps: AuditActivityDeps) {
  return {
    async appendAudit(input: AppendAuditInput): Promise<AppendAuditResult> {
      await storeCall(() => deps.store.appendAudit({ ...input, now: new Date(input.now) }));
      return { at: input.now };
    },
  };
}
