import { z } from 'zod';
import { Id, Runtime } from './common.js';
import { AddOn, Tier } from './tiers.js';

export const BillingState = z.object({
  customerId: z.string().nullable(),
  subscriptionId: z.string().nullable(),
  subscriptionItemId: z.string().nullable(),
  status: z.string().nullable(),
  /** While a failed payment's grace period runs: when it ends (ISO); the paid tier is kept until then. */
  graceEndsAt: z.string().nullable(),
});
export type BillingState = z.infer<typeof BillingState>;

export const User = z.object({
  id: z.string(),
  tier: Tier,
  /** Extras bought on top of the tier (AgentCore on pro). */
  addOns: z.array(AddOn),
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

/** A secret's name, as the agent reads it (`env.NAME`). */
export const SecretName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'upper-case letters, digits and _, not starting with a digit, at most 64');

/** Names the platform gives its own bindings (the invoke token, the telemetry key): not for users. */
export const RESERVED_SECRET_PREFIX = 'WEBHOST_';
/** A secret's value is at most 5 KiB of UTF-8, like a Cloudflare Workers secret. */
export const MAX_SECRET_VALUE_BYTES = 5120;

/** A name a user may set: the pattern, and not one of the platform's own. */
export const UserSecretName = SecretName.refine(
  (name) => !name.startsWith(RESERVED_SECRET_PREFIX),
  `names starting with ${RESERVED_SECRET_PREFIX} are the platform's own`,
);

/** `PUT /v1/agents/:id/secrets/:name`. The value is never echoed back in an error, not even its length. */
export const PutSecretBody = z.strictObject(
  {
    value: z
      .string({ error: 'value must be a string' })
      .refine((v) => new TextEncoder().encode(v).byteLength <= MAX_SECRET_VALUE_BYTES, {
        error: `value must be at most ${MAX_SECRET_VALUE_BYTES} bytes (5 KiB) of UTF-8`,
        abort: true,
      }),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? 'only "value" is accepted' : undefined) },
);
export type PutSecretBody = z.infer<typeof PutSecretBody>;

/**
 * An API key as stored: its hash stays in the store, only the prefix is shown. A key bound to
 * an agent (`agentId`) invokes that agent only.
 */
export const ApiKey = z.object({
  id: z.string(),
  ownerId: z.string(),
  name: z.string(),
  prefix: z.string(),
  agentId: z.string().nullable(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export type ApiKey = z.infer<typeof ApiKey>;

/** An API key as `GET /v1/api-keys` lists it. */
export const ApiKeyView = ApiKey.omit({ ownerId: true });
export type ApiKeyView = z.infer<typeof ApiKeyView>;

/** `POST /v1/api-keys`. */
export const CreateApiKeyBody = z.strictObject(
  {
    name: z
      .string({ error: 'name must be a string' })
      .trim()
      .min(1, 'name must not be empty')
      .max(64, 'name must be at most 64 characters'),
    agentId: Id.optional(),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? 'only "name" and "agentId" are accepted' : undefined) },
);
export type CreateApiKeyBody = z.infer<typeof CreateApiKeyBody>;

/** The answer to `POST /v1/api-keys`: the only time the key itself is shown. */
export const CreatedApiKey = ApiKeyView.extend({ key: z.string() });
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;

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
