import { z } from 'zod';
import { AddOn, Id, Tier, type BillingState, type User } from '../../contracts/index.js';
import { Instant, Short, type Rules } from './rules.js';

/** Accounts: who a user is to the platform (tier, billing ids). */
export interface UserStore {
  /** Creates the user row on first sight, on `tier` (default free); later calls change nothing. */
  ensureUser(userId: string, now: Date, tier?: Tier): Promise<void>;
  getUser(userId: string): Promise<User>;
  setUserTier(input: SetUserTierInput): Promise<User>;
  /** Replaces the user's add-ons (AgentCore on pro). */
  setUserAddOns(input: { userId: string; addOns: AddOn[]; now: Date }): Promise<User>;
  /** Merges the given billing ids into the user's (Lemon Squeezy customer, subscription…). */
  setUserBilling(input: SetUserBillingInput): Promise<User>;
}

export interface SetUserTierInput {
  userId: string;
  tier: Tier;
  now: Date;
}

export interface SetUserBillingInput {
  userId: string;
  billing: Partial<BillingState>;
  now: Date;
}

export const userRules: Rules<UserStore> = {
  ensureUser: z.union([z.tuple([Id, Instant]), z.tuple([Id, Instant, Tier.optional()])]),
  setUserAddOns: z.tuple([z.object({ userId: Id, addOns: z.array(AddOn).max(8), now: Instant })]),
  getUser: z.tuple([Id]),
  setUserTier: z.tuple([z.object({ userId: Id, tier: Tier, now: Instant })]),
  setUserBilling: z.tuple([
    z.object({
      userId: Id,
      billing: z.strictObject({
        customerId: Short(128).nullable().optional(),
        subscriptionId: Short(128).nullable().optional(),
        subscriptionItemId: Short(128).nullable().optional(),
        status: Short(64).nullable().optional(),
      }),
      now: Instant,
    }),
  ]),
};
