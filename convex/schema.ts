import { defineSchema, defineTable } from 'convex/server';
import { v, type Infer } from 'convex/values';
import { literals } from 'convex-helpers/validators';
import {
  AddOn,
  AgentStatus,
  DeploymentStatus,
  DeployStep,
  EventKind,
  Framework,
  LogLevel,
  Runtime,
  SourceType,
  StepLogEntry,
  Tier,
  WebhookDeliveryStatus,
  WebhookEventType,
} from '../lib/contracts/index.js';

// The state store on Convex: the whole data model (docs/architecture.md, Invariants), with the same semantics as the
// SQL tables. Our own ids (`agt_…`, `dep_…`) live in their own fields, looked up by index;
// Convex's `_id` never leaves this folder. Times are epoch milliseconds. Enumerations come
// from the zod contracts, so the two stores cannot drift apart.

export const runtime = literals(...Runtime.options);
export const tier = literals(...Tier.options);
export const addOn = literals(...AddOn.options);
export const agentStatus = literals(...AgentStatus.options);
export const deploymentStatus = literals(...DeploymentStatus.options);
export const changeKind = literals('agent', 'deployment');
export const eventKind = literals(...EventKind.options);
export const sourceType = literals(...SourceType.options);
export const framework = literals(...Framework.options);
/** Where a `git` source comes from; its files are fetched at build time, not stored. */
export const gitSourceFields = { url: v.string(), ref: v.string(), path: v.optional(v.string()) };

export const stepLogEntry = v.object({
  step: literals(...DeployStep.options),
  status: literals(...StepLogEntry.shape.status.options),
  at: v.string(),
  message: v.optional(v.string()),
});
export type StepLogEntryDoc = Infer<typeof stepLogEntry>;

export const billingState = v.object({
  customerId: v.nullable(v.string()),
  subscriptionId: v.nullable(v.string()),
  subscriptionItemId: v.nullable(v.string()),
  status: v.nullable(v.string()),
  /** While a failed payment's grace period runs: when it ends (ISO); absent on users written before it existed. */
  graceEndsAt: v.optional(v.nullable(v.string())),
});
export type BillingStateDoc = Infer<typeof billingState>;

export const usageTotals = {
  requests: v.number(),
  errors: v.number(),
  durationMs: v.number(),
  computeMs: v.number(),
  inputBytes: v.number(),
  outputBytes: v.number(),
  inputTokens: v.number(),
  outputTokens: v.number(),
};
export const usageTotalsObject = v.object(usageTotals);
export type UsageTotalsDoc = Infer<typeof usageTotalsObject>;

export const user = v.object({
  userId: v.string(),
  tier,
  /** Extras bought on top of the tier (absent on users written before add-ons existed). */
  addOns: v.optional(v.array(addOn)),
  defaultRuntime: runtime,
  billing: billingState,
  /**
   * When the owner's oldest raw telemetry event happened, null when none is kept: retention
   * finds the owners of a tier with something to delete by index, without scanning the rest.
   */
  telemetryFrom: v.nullable(v.number()),
  /** The same for the owner's oldest log line (absent on users written before logs existed). */
  logsFrom: v.optional(v.nullable(v.number())),
  createdAt: v.number(),
  updatedAt: v.number(),
});
export type UserDoc = Infer<typeof user>;

export const agent = v.object({
  agentId: v.string(),
  ownerId: v.string(),
  name: v.string(),
  runtime,
  status: agentStatus,
  activeDeploymentId: v.nullable(v.string()),
  /** The rollback workflow holding the agent's one in-flight slot (absent on agents written before it existed). */
  rollbackWorkflowId: v.optional(v.nullable(v.string())),
  /** Set while the owner's tier no longer covers the agent (a downgrade pauses, never deletes); status stays active. */
  pausedAt: v.optional(v.nullable(v.number())),
  createdAt: v.number(),
  updatedAt: v.number(),
  deletedAt: v.nullable(v.number()),
});
export type AgentDoc = Infer<typeof agent>;

/**
 * A deployment; a `files` source's files are in `deploymentFiles`, since a source may outgrow one
 * document; a `git` source's location is `git`, an `image` source's `image`.
 */
export const deployment = v.object({
  deploymentId: v.string(),
  agentId: v.string(),
  ownerId: v.string(),
  version: v.number(),
  runtime,
  status: deploymentStatus,
  sourceType,
  /** The entry the source names, if it names one (else its manifest does). */
  entry: v.optional(v.string()),
  git: v.optional(v.object(gitSourceFields)),
  image: v.optional(v.object({ uri: v.string() })),
  /** Recorded when the build ends; absent on deployments made before it was recorded. */
  framework: v.optional(v.nullable(framework)),
  commitSha: v.optional(v.nullable(v.string())),
  artifactDigest: v.nullable(v.string()),
  providerRef: v.nullable(v.string()),
  workflowId: v.string(),
  steps: v.array(stepLogEntry),
  error: v.nullable(v.object({ code: v.string(), message: v.string() })),
  createdAt: v.number(),
  updatedAt: v.number(),
  finishedAt: v.nullable(v.number()),
});
export type DeploymentDoc = Infer<typeof deployment>;

/** One part of one source file: a file larger than a part is split, in order. */
export const deploymentFile = v.object({
  deploymentId: v.string(),
  path: v.string(),
  part: v.number(),
  text: v.string(),
});

/** What is known about a secret: never its value (architecture.md, Invariants). */
export const secretMetadata = v.object({
  ownerId: v.string(),
  agentId: v.string(),
  name: v.string(),
  version: v.number(),
  updatedAt: v.number(),
  /** Set when the secret was deleted: the row stays so its version keeps growing. */
  deletedAt: v.optional(v.nullable(v.number())),
});
export type SecretMetadataDoc = Infer<typeof secretMetadata>;

export const apiKey = v.object({
  keyId: v.string(),
  ownerId: v.string(),
  name: v.string(),
  prefix: v.string(),
  hash: v.string(),
  /** The one agent the key may invoke; absent or null: any of the owner's. */
  agentId: v.optional(v.nullable(v.string())),
  createdAt: v.number(),
  revokedAt: v.nullable(v.number()),
});
export type ApiKeyDoc = Infer<typeof apiKey>;

export const telemetryEvent = v.object({
  eventId: v.string(),
  ownerId: v.string(),
  agentId: v.string(),
  deploymentId: v.string(),
  runtime,
  kind: eventKind,
  at: v.number(),
  ok: v.boolean(),
  status: v.nullable(v.number()),
  durationMs: v.number(),
  computeMs: v.number(),
  inputBytes: v.number(),
  outputBytes: v.number(),
  inputTokens: v.number(),
  outputTokens: v.number(),
  sessionId: v.nullable(v.string()),
  endUser: v.nullable(v.string()),
  apiKeyId: v.nullable(v.string()),
});
export type TelemetryEventDoc = Infer<typeof telemetryEvent>;

export const logLevel = literals(...LogLevel.options);
/** A log line (lib/contracts/logs.ts `LogLine`); `seq` per agent, from its `logCounters` row. */
export const logLine = v.object({
  lineId: v.string(),
  ownerId: v.string(),
  agentId: v.string(),
  deploymentId: v.string(),
  seq: v.number(),
  at: v.number(),
  level: logLevel,
  message: v.string(),
  requestId: v.nullable(v.string()),
  sessionId: v.nullable(v.string()),
  dropped: v.number(),
});
export type LogLineDoc = Infer<typeof logLine>;
/** An agent's last log seq: kept apart from its lines, so deleting them never reuses a seq. */
export const logCounter = v.object({ agentId: v.string(), seq: v.number() });

export const hourlyMetric = v.object({
  ownerId: v.string(),
  agentId: v.string(),
  runtime,
  hour: v.number(),
  ...usageTotals,
});
export type HourlyMetricDoc = Infer<typeof hourlyMetric>;

export const usage = v.object({ ownerId: v.string(), period: v.string(), runtime, ...usageTotals });
export type UsageDoc = Infer<typeof usage>;

/** A period gets a row when it is closed; until then it is open and has none. */
export const billingPeriod = v.object({
  ownerId: v.string(),
  period: v.string(),
  status: literals('open', 'closed'),
  totals: v.nullable(usageTotalsObject),
  costUsd: v.nullable(v.number()),
  usageReportId: v.nullable(v.string()),
  closedAt: v.nullable(v.number()),
  reportedAt: v.nullable(v.number()),
});
export type BillingPeriodDoc = Infer<typeof billingPeriod>;

/** The caller's own end users (x-webhost-end-user), per period. */
export const endUserUsage = v.object({
  ownerId: v.string(),
  period: v.string(),
  endUser: v.string(),
  requests: v.number(),
  errors: v.number(),
  inputTokens: v.number(),
  outputTokens: v.number(),
});
export type EndUserUsageDoc = Infer<typeof endUserUsage>;

/** What the gateways have leased of an owner's monthly request limit. */
export const requestCounter = v.object({ ownerId: v.string(), period: v.string(), leased: v.number() });

export const webhookEvent = v.object({
  provider: v.string(),
  eventId: v.string(),
  eventName: v.string(),
  receivedAt: v.number(),
});

export const webhookEventType = literals(...WebhookEventType.options);
export const webhookDeliveryStatus = literals(...WebhookDeliveryStatus.options);

/** An outbound webhook endpoint. Its signing secret is derived from the master key, never stored. */
export const webhookEndpoint = v.object({
  endpointId: v.string(),
  ownerId: v.string(),
  url: v.string(),
  events: v.array(webhookEventType),
  description: v.nullable(v.string()),
  createdAt: v.number(),
  /** Set while the owner has disabled it: no new deliveries. Absent on documents written before. */
  disabledAt: v.optional(v.nullable(v.number())),
  /** Deleted endpoints keep their document for their deliveries' sake; they are never listed again. */
  deletedAt: v.nullable(v.number()),
});
export type WebhookEndpointDoc = Infer<typeof webhookEndpoint>;

/** One event to one endpoint; `body` is the JSON sent in every attempt. */
export const webhookDelivery = v.object({
  deliveryId: v.string(),
  ownerId: v.string(),
  endpointId: v.string(),
  eventId: v.string(),
  eventType: webhookEventType,
  agentId: v.string(),
  deploymentId: v.string(),
  body: v.string(),
  status: webhookDeliveryStatus,
  attempts: v.number(),
  lastResponseStatus: v.nullable(v.number()),
  lastError: v.nullable(v.string()),
  createdAt: v.number(),
  lastAttemptAt: v.nullable(v.number()),
  finishedAt: v.nullable(v.number()),
});
export type WebhookDeliveryDoc = Infer<typeof webhookDelivery>;

/** The answer is JSON text: its keys are the caller's and need not be Convex field names. */
export const idempotencyRecord = v.object({
  ownerId: v.string(),
  key: v.string(),
  requestHash: v.string(),
  status: v.nullable(v.number()),
  body: v.nullable(v.string()),
  createdAt: v.number(),
});

/** `seq` numbers an owner's entries in order: the stable key of the audit log's pages. */
export const auditEntry = v.object({
  ownerId: v.string(),
  seq: v.number(),
  actor: v.string(),
  action: v.string(),
  targetType: v.string(),
  targetId: v.string(),
  /** JSON text, like idempotency answers. */
  details: v.nullable(v.string()),
  at: v.number(),
});
export type AuditEntryDoc = Infer<typeof auditEntry>;

/**
 * A committed change to an owner's agent or deployment, for watchers (`convex/watch.ts`);
 * `serving` when it changed what serves the agent. Pruned after a day by `convex/crons.ts`.
 */
export const change = v.object({ ownerId: v.string(), kind: changeKind, id: v.string(), serving: v.boolean() });
export type ChangeDoc = Infer<typeof change>;

export default defineSchema({
  users: defineTable(user)
    .index('by_userId', ['userId'])
    .index('by_tier_telemetryFrom', ['tier', 'telemetryFrom'])
    .index('by_tier_logsFrom', ['tier', 'logsFrom']),
  agents: defineTable(agent)
    .index('by_agentId', ['agentId'])
    .index('by_ownerId_status_agentId', ['ownerId', 'status', 'agentId'])
    .index('by_ownerId_status_name', ['ownerId', 'status', 'name']),
  deployments: defineTable(deployment)
    .index('by_deploymentId', ['deploymentId'])
    .index('by_agentId_version', ['agentId', 'version'])
    .index('by_agentId_status', ['agentId', 'status']),
  deploymentFiles: defineTable(deploymentFile).index('by_deploymentId_path_part', ['deploymentId', 'path', 'part']),
  secretMetadata: defineTable(secretMetadata).index('by_agentId_name', ['agentId', 'name']),
  apiKeys: defineTable(apiKey).index('by_keyId', ['keyId']).index('by_ownerId', ['ownerId']).index('by_hash', ['hash']),
  telemetryEvents: defineTable(telemetryEvent)
    .index('by_deploymentId_eventId', ['deploymentId', 'eventId'])
    .index('by_agentId_at_eventId', ['agentId', 'at', 'eventId'])
    .index('by_ownerId_at', ['ownerId', 'at']),
  logLines: defineTable(logLine)
    .index('by_agentId_seq', ['agentId', 'seq'])
    .index('by_deploymentId_lineId', ['deploymentId', 'lineId'])
    .index('by_ownerId_at', ['ownerId', 'at']),
  logCounters: defineTable(logCounter).index('by_agentId', ['agentId']),
  hourlyMetrics: defineTable(hourlyMetric)
    .index('by_agentId_hour_runtime', ['agentId', 'hour', 'runtime'])
    .index('by_ownerId_hour', ['ownerId', 'hour']),
  usage: defineTable(usage).index('by_ownerId_period_runtime', ['ownerId', 'period', 'runtime']),
  endUserUsage: defineTable(endUserUsage)
    .index('by_ownerId_period_endUser', ['ownerId', 'period', 'endUser'])
    .index('by_ownerId_period_requests', ['ownerId', 'period', 'requests']),
  requestCounters: defineTable(requestCounter).index('by_ownerId_period', ['ownerId', 'period']),
  billingPeriods: defineTable(billingPeriod).index('by_ownerId_period', ['ownerId', 'period']),
  webhookEvents: defineTable(webhookEvent).index('by_provider_eventId', ['provider', 'eventId']),
  idempotencyRecords: defineTable(idempotencyRecord).index('by_ownerId_key', ['ownerId', 'key']),
  auditLog: defineTable(auditEntry).index('by_ownerId_seq', ['ownerId', 'seq']),
  webhookEndpoints: defineTable(webhookEndpoint)
    .index('by_endpointId', ['endpointId'])
    .index('by_ownerId_endpointId', ['ownerId', 'endpointId']),
  webhookDeliveries: defineTable(webhookDelivery)
    .index('by_deliveryId', ['deliveryId'])
    .index('by_endpointId_deliveryId', ['endpointId', 'deliveryId'])
    .index('by_endpointId_eventId', ['endpointId', 'eventId'])
    .index('by_eventId', ['eventId']),
  changes: defineTable(change).index('by_serving', ['serving']),
});
