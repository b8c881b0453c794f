import { z } from 'zod';
import { AddOn, Id, Tier, type BillingState, type User } from '../../contracts/index.js';
import { AuditNoteRule, type AuditNote } from './audit.js';
import { Instant, Short, type Rules } from './rules.js';

/** Accounts: who a user is to the platform (tier, billing ids). */
export interface UserStore {
  /** Creates the user row on first sight, on `tier` (default free); later calls change nothing. */
  ensureUser(userId: string, now: Date, tier?: Tier): Promise<void>;
  getUser(userId: string): Promise<User>;
  /** Sets the tier; pauses and resumes agents as `changeUserPlan` does. */
  setUserTier(input: SetUserTierInput): Promise<User>;
  /** Replaces the user's add-ons (AgentCore on pro); pauses and resumes agents as `changeUserPlan` does. */
  setUserAddOns(input: { userId: string; addOns: AddOn[]; now: Date }): Promise<User>;
  /**
   * Changes what a user pays for — tier, add-ons, billing ids and state — in one transaction,
   * and brings the user's agents in line with it (DESIGN.md §8: downgrades pause, nothing is
   * deleted): agents past the tier's count, or on a runtime it does not open, are paused; paused
   * agents it allows again are resumed. Agents already serving keep serving first, then the
   * oldest. The audit note is written, with the paused and resumed agent ids added to its
   * details (and one `agent.paused` / `agent.resumed` entry per agent), only when something
   * changed: a repeat writes nothing.
   *
   * `ifGraceEndsAt`: apply only while the user's grace period still ends at that instant (a
   * recovery that came first cleared it); otherwise nothing is written and `applied` is false.
   */
  changeUserPlan(input: ChangeUserPlanInput): Promise<PlanChange>;
  /** Merges the given billing ids into the user's (Lemon Squeezy customer, subscription…). */
  setUserBilling(input: SetUserBillingInput): Promise<User>;
}

export interface SetUserTierInput {
  userId: string;
  tier: Tier;
  now: Date;
}

export interface ChangeUserPlanInput {
  userId: string;
  tier?: Tier;
  addOns?: AddOn[];
  billing?: Partial<BillingState>;
  /** Apply only while the grace period ends at this instant (null: only while none runs). */
  ifGraceEndsAt?: string | null;
  now: Date;
  audit?: AuditNote;
}

export interface PlanChange {
  user: User;
  /** False only when `ifGraceEndsAt` did not match. */
  applied: boolean;
  /** Whether anything was written. */
  changed: boolean;
  paused: string[];
  resumed: string[];
}

export interface SetUserBillingInput {
  userId: string;
  billing: Partial<BillingState>;
  now: Date;
}

const BillingPatch = z.strictObject({
  customerId: Short(128).nullable().optional(),
  subscriptionId: Short(128).nullable().optional(),
  subscriptionItemId: Short(128).nullable().optional(),
  status: Short(64).nullable().optional(),
  graceEndsAt: z.iso.datetime().nullable().optional(),
});

export const userRules: Rules<UserStore> = {
  ensureUser: z.union([z.tuple([Id, Instant]), z.tuple([Id, Instant, Tier.optional()])]),
  setUserAddOns: z.tuple([z.object({ userId: Id, addOns: z.array(AddOn).max(8), now: Instant })]),
  getUser: z.tuple([Id]),
  setUserTier: z.tuple([z.object({ userId: Id, tier: Tier, now: Instant })]),
  setUserBilling: z.tuple([z.object({ userId: Id, billing: BillingPatch, now: Instant })]),
  changeUserPlan: z.tuple([
    z.object({
      userId: Id,
      tier: Tier.optional(),
      addOns: z.array(AddOn).max(8).optional(),
      billing: BillingPatch.optional(),
      ifGraceEndsAt: z.iso.datetime().nullable().optional(),
      now: Instant,
      audit: AuditNoteRule.optional(),
    }),
  ]),
};
