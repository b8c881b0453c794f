import { z } from 'zod';
import { Runtime } from './common.js';
import { Tier } from './tiers.js';

export const BillingState = z.object({
  customerId: z.string().nullable(),
  subscriptionId: z.string().nullable(),
  subscriptionItemId: z.string().nullable(),
  status: z.string().nullable(),
});
export type BillingState = z.infer<typeof BillingState>;

export const User = z.object({
  id: z.string(),
  tier: Tier,
  defaultRuntime: Runtime,
  billing: BillingState,
  createdAt: z.string(),
});
export type User = z.infer<typeof User>;

/** Secret metadata: a secret's name and version, never its value (architecture.md, Invariants). */
export const SecretMetadata = z.strictObject({
  agentId: z.string(),
  name: z.string(),
  version: z.number().int(),
  updatedAt: z.string(),
});
export type SecretMetadata = z.infer<typeof SecretMetadata>;

export const SecretName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a letter or _, then letters, digits or _')
  .max(128);

/** An API key as stored and shown: its hash stays in the store, only the prefix is shown. */
export const ApiKey = z.object({
  id: z.string(),
  ownerId: z.string(),
  name: z.string(),
  prefix: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export type ApiKey = z.infer<typeof ApiKey>;

export const AuditEntry = z.object({
  id: z.string(),
  ownerId: z.string(),
  actor: z.string(),
  action: z.string(),
  targetType: z.string(),
  targetId: z.string(),
  details: z.record(z.string(), z.unknown()).nullable(),
  at: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;
