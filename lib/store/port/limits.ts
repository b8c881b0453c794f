import { z } from 'zod';
import { Id, Period } from '../../contracts/index.js';
import type { Rules } from './rules.js';

/**
 * The monthly request limit's shared counter (DESIGN.md §8). Gateways lease requests in
 * blocks; the counter holds what all of them have leased, never more than the owner's tier
 * allows, so callers racing through any number of gateways cannot pass the limit.
 */
export interface LimitStore {
  /**
   * Leases up to `want` requests of the owner's period, within the limit of the owner's tier
   * (read in the same transaction). `limit` null: the tier has none, and nothing is counted.
   */
  leaseRequests(input: { ownerId: string; period: string; want: number }): Promise<RequestLease>;
  /** Gives back requests leased and not used (a gateway shutting down); never below zero. */
  releaseRequests(input: { ownerId: string; period: string; count: number }): Promise<void>;
}

export interface RequestLease {
  granted: number;
  /** The tier's requests per period; null when unlimited. */
  limit: number | null;
  /** Leased so far in the period, this lease included. */
  leased: number;
}

const Want = z.number().int().min(1).max(1_000_000);

export const limitRules: Rules<LimitStore> = {
  leaseRequests: z.tuple([z.object({ ownerId: Id, period: Period, want: Want })]),
  releaseRequests: z.tuple([z.object({ ownerId: Id, period: Period, count: Want })]),
};
