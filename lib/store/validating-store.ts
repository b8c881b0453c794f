import { z, type ZodType } from 'zod';
import {
  AgentName,
  AppError,
  Id,
  Period,
  Runtime,
  SecretName,
  TELEMETRY_BATCH_MAX,
  TelemetryEvent,
  Tier,
  FilesSource,
  DeploymentStatus,
  DeployStep,
  StepLogEntry,
} from '../contracts/index.js';
import type { Store } from './port.js';

const Instant = z.date().refine((d) => !Number.isNaN(d.getTime()), 'a valid date');
const Page = z.object({ limit: z.number().int().min(1).max(100), cursor: z.string().max(400).optional() });
const Short = (max: number) => z.string().min(1).max(max);
const Details = z.record(z.string(), z.unknown()).refine((d) => JSON.stringify(d).length <= 8192, 'details larger than 8 KiB');
const NullableId = Id.nullable();
const Events = z
  .array(TelemetryEvent)
  .min(1)
  .max(TELEMETRY_BATCH_MAX)
  .refine((events) => new Set(events.map((e) => e.id)).size === events.length, 'event ids repeat within the batch');

/** For each port operation, the shape of its arguments. Every operation is listed. */
const rules: { [K in keyof Store]: ZodType | null } = {
  ensureUser: z.tuple([Id, Instant]),
  createAgent: z.tuple([z.object({ id: Id, ownerId: Id, name: AgentName, runtime: Runtime, now: Instant })]),
  getAgent: z.tuple([Id, Id]),
  listAgents: z.tuple([Id, Page]),
  renameAgent: z.tuple([z.object({ ownerId: Id, agentId: Id, name: AgentName, now: Instant })]),
  deleteAgent: z.tuple([z.object({ ownerId: Id, agentId: Id, now: Instant })]),
  createDeployment: z.tuple([z.object({ id: Id, ownerId: Id, agentId: Id, workflowId: Short(128), source: FilesSource, now: Instant })]),
  getDeployment: z.tuple([Id, Id]),
  getDeploymentSource: z.tuple([Id, Id]),
  listDeployments: z.tuple([Id, Id, Page]),
  transitionDeployment: z.tuple([
    z.object({
      ownerId: Id,
      deploymentId: Id,
      to: DeploymentStatus,
      now: Instant,
      step: DeployStep.optional(),
      artifactDigest: Short(128).optional(),
      providerRef: Short(256).optional(),
      error: z.object({ code: Short(64), message: z.string().max(4000) }).optional(),
    }),
  ]),
  recordDeploymentStep: z.tuple([z.object({ ownerId: Id, deploymentId: Id, entry: StepLogEntry, providerRef: Short(256).optional() })]),
  switchActiveDeployment: z.tuple([z.object({ ownerId: Id, agentId: Id, expected: NullableId, next: NullableId, now: Instant })]),
  getServingTarget: z.tuple([Id, Id]),
  watchServing: null,
  beginIdempotent: z.tuple([z.object({ ownerId: Id, key: Short(255), requestHash: Short(128), now: Instant })]),
  completeIdempotent: z.tuple([z.object({ ownerId: Id, key: Short(255), status: z.number().int().min(100).max(599), body: z.unknown() })]),
  abandonIdempotent: z.tuple([z.object({ ownerId: Id, key: Short(255) })]),
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
  putSecretMetadata: z.tuple([z.object({ ownerId: Id, agentId: Id, name: SecretName, now: Instant })]),
  listSecretMetadata: z.tuple([Id, Id]),
  deleteSecretMetadata: z.tuple([z.object({ ownerId: Id, agentId: Id, name: SecretName })]),
  createApiKey: z.tuple([z.object({ id: Id, ownerId: Id, name: Short(64), prefix: Short(32), hash: z.string().min(16).max(256), now: Instant })]),
  listApiKeys: z.tuple([Id]),
  revokeApiKey: z.tuple([z.object({ ownerId: Id, id: Id, now: Instant })]),
  findApiKeyByHash: z.tuple([z.string().min(16).max(256)]),
  ingestTelemetry: z.tuple([z.object({ ownerId: Id, agentId: Id, deploymentId: Id, events: Events })]),
  listTelemetryEvents: z.tuple([z.object({ ownerId: Id, agentId: Id, limit: z.number().int().min(1).max(100), cursor: z.string().max(400).optional() })]),
  listHourlyMetrics: z.tuple([z.object({ ownerId: Id, agentId: Id, from: Instant, to: Instant })]),
  getUsage: z.tuple([z.object({ ownerId: Id, period: Period })]),
  deleteTelemetryBefore: z.tuple([z.object({ tier: Tier, cutoff: Instant, limit: z.number().int().min(1).max(10_000) })]),
  getBillingPeriod: z.tuple([z.object({ ownerId: Id, period: Period })]),
  closeBillingPeriod: z.tuple([z.object({ ownerId: Id, period: Period, now: Instant })]),
  recordUsageReport: z.tuple([z.object({ ownerId: Id, period: Period, reportId: Short(128), now: Instant })]),
  recordWebhookEvent: z.tuple([z.object({ provider: Short(32), eventId: Short(128), eventName: Short(64), now: Instant })]),
  appendAudit: z.tuple([
    z.object({ ownerId: Id, actor: Short(128), action: Short(128), targetType: Short(64), targetId: Short(128), details: Details.optional(), now: Instant }),
  ]),
  listAudit: z.tuple([Id, Page]),
  watchChanges: null,
  close: null,
};

/**
 * Wraps an adapter so that every operation refuses malformed or oversized arguments with
 * `validation_failed` before it reaches the database: the same checks for every adapter,
 * and never a partial write.
 */
export function validatingStore(inner: Store): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      const rule = rules[prop as keyof Store];
      if (typeof value !== 'function' || !rule) return typeof value === 'function' ? value.bind(target) : value;
      return (...args: unknown[]) => {
        const parsed = rule.safeParse(args);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          return Promise.reject(
            new AppError('validation_failed', `${String(prop)}: ${issue ? `${issue.path.slice(1).join('.') || 'argument'}: ${issue.message}` : 'invalid arguments'}`),
          );
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
