import { ConvexClient, ConvexHttpClient } from 'convex/browser';
import type { FunctionArgs, FunctionReference, FunctionReturnType, OptionalRestArgs } from 'convex/server';
import { ConvexError } from 'convex/values';
import { z } from 'zod';
import { api } from '../../convex/_generated/api.js';
import { CHANGE_WINDOW } from '../../convex/watch.js';
import { AppError, ErrorCode } from '../contracts/index.js';
import type {
  Agent,
  ApiKey,
  AuditEntry,
  BillingPeriod,
  BillingState,
  Deployment,
  FilesSource,
  HourlyMetric,
  Page,
  PageQuery,
  Period,
  PeriodUsage,
  SecretMetadata,
  StepLogEntry,
  StoredTelemetryEvent,
  TelemetryEvent,
  Tier,
  User,
} from '../contracts/index.js';
import type { IdempotencyBegin, ServingTarget, Store, StoreChange, TransitionInput } from './port.js';
import { validatingStore } from './validating-store.js';

/**
 * How `ConvexStore` reaches Convex: over HTTP and a WebSocket in production
 * (`convexHttpTransport`), through the `convex-test` harness in tests. Both call the same
 * function references (`api.x.y`).
 */
export interface ConvexTransport {
  query<F extends FunctionReference<'query'>>(ref: F, args: FunctionArgs<F>): Promise<FunctionReturnType<F>>;
  mutation<F extends FunctionReference<'mutation'>>(ref: F, args: FunctionArgs<F>): Promise<FunctionReturnType<F>>;
  /**
   * Calls `onResult` with the query's result, then again whenever it changes, never before
   * it has returned the function that stops. Absent on a transport without subscriptions.
   */
  subscribe?<F extends FunctionReference<'query'>>(
    ref: F,
    args: FunctionArgs<F>,
    onResult: (result: FunctionReturnType<F>) => void,
    onError: (err: Error) => void,
  ): () => void;
  close(): Promise<void>;
}

/**
 * Production: calls over HTTP, subscriptions over one WebSocket client opened on first use.
 * Mutations skip the HTTP client's queue: each store call is its own transaction, and
 * queueing them would serialize every request of the process behind one another.
 */
export function convexHttpTransport(url: string): ConvexTransport {
  const http = new ConvexHttpClient(url);
  let live: ConvexClient | undefined;
  return {
    query: (ref, args) => http.query(ref, ...([args] as OptionalRestArgs<typeof ref>)),
    mutation: (ref, args) => http.mutation(ref, args, { skipQueue: true }),
    subscribe(ref, args, onResult, onError) {
      live ??= new ConvexClient(url);
      return live.onUpdate(ref, args, onResult, onError);
    },
    close: async () => live?.close(),
  };
}

/** The store on Convex (`CONVEX_URL`); the service secret is the deployment's `WEBHOST_SERVICE_SECRET`. */
export function openConvexStore(config: { url: string; serviceSecret: string }): Store {
  return convexStore(convexHttpTransport(config.url), config.serviceSecret);
}

/** A `ConvexStore` behind the argument checks every adapter shares (validating-store.ts). */
export function convexStore(transport: ConvexTransport, serviceSecret: string): Store {
  return validatingStore(new ConvexStore(transport, serviceSecret));
}

/** What a function refuses with: `ConvexError({ code, message })` (convex/functions.ts `fail`). */
const ErrorData = z.object({ code: ErrorCode, message: z.string() });

/** Cursors are opaque to clients; inside they are the sort key of the last item returned. */
const encodeCursor = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');
function decodeCursor<T>(cursor: string | undefined, key: z.ZodType<T>): T | undefined {
  if (cursor === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const parsed = key.safeParse(decoded);
  if (!parsed.success) throw new AppError('validation_failed', 'cursor is not one this API handed out');
  return parsed.data;
}
const toPage = <T, K>({ items, next }: { items: T[]; next: K | null }): Page<T> => ({ items, nextCursor: next === null ? null : encodeCursor(next) });

const ms = (d: Date) => d.getTime();
const json = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

type ServiceArgs<F extends FunctionReference<'query' | 'mutation'>> = Omit<FunctionArgs<F>, 'secret'>;
type Change = FunctionReturnType<typeof api.watch.recent>[number];

/**
 * Follows a subscription to the newest changes (newest first, `window` at most): calls
 * `onNew` for each change the previous result did not hold, oldest first, and `onGap` when
 * a whole window is new, since more may have happened in between than one result shows.
 * The first result is where watching starts: it reports nothing.
 */
export function followChanges<C extends { changeId: string }>(window: number, onNew: (change: C) => void, onGap: () => void): (newestFirst: C[]) => void {
  let seen: Set<string> | null = null;
  return (newestFirst) => {
    if (seen !== null) {
      const before = seen;
      const fresh = newestFirst.filter((c) => !before.has(c.changeId));
      if (fresh.length === window) onGap();
      for (const change of fresh.reverse()) onNew(change);
    }
    seen = new Set(newestFirst.map((c) => c.changeId));
  };
}

/**
 * The state store port on Convex. Every operation is one Convex query or mutation (see
 * `convex/`), whose transaction carries the invariant; this class only converts: `Date`s to
 * epoch milliseconds, cursors to sort keys, `ConvexError`s to `AppError`s.
 */
export class ConvexStore implements Store {
  constructor(
    private readonly transport: ConvexTransport,
    private readonly secret: string,
  ) {}

  private query<F extends FunctionReference<'query'>>(ref: F, args: ServiceArgs<F>): Promise<FunctionReturnType<F>> {
    return refusalsAsAppErrors(this.transport.query(ref, { ...args, secret: this.secret } as FunctionArgs<F>));
  }

  private mutation<F extends FunctionReference<'mutation'>>(ref: F, args: ServiceArgs<F>): Promise<FunctionReturnType<F>> {
    return refusalsAsAppErrors(this.transport.mutation(ref, { ...args, secret: this.secret } as FunctionArgs<F>));
  }

  async ensureUser(userId: string, now: Date): Promise<void> {
    await this.mutation(api.users.ensure, { userId, now: ms(now) });
  }

  createAgent(input: { id: string; ownerId: string; name: string; runtime: Agent['runtime']; now: Date }): Promise<Agent> {
    return this.mutation(api.agents.create, { agentId: input.id, ownerId: input.ownerId, name: input.name, runtime: input.runtime, now: ms(input.now) });
  }

  getAgent(ownerId: string, agentId: string): Promise<Agent> {
    return this.query(api.agents.get, { ownerId, agentId });
  }

  async listAgents(ownerId: string, page: PageQuery): Promise<Page<Agent>> {
    const before = decodeCursor(page.cursor, z.string());
    return toPage(await this.query(api.agents.list, { ownerId, limit: page.limit, before }));
  }

  renameAgent(input: { ownerId: string; agentId: string; name: string; now: Date }): Promise<Agent> {
    return this.mutation(api.agents.rename, { ...input, now: ms(input.now) });
  }

  deleteAgent(input: { ownerId: string; agentId: string; now: Date }): Promise<Agent> {
    return this.mutation(api.agents.remove, { ...input, now: ms(input.now) });
  }

  createDeployment(input: { id: string; ownerId: string; agentId: string; workflowId: string; source: FilesSource; now: Date }): Promise<Deployment> {
    const { type, entry, files } = input.source;
    return this.mutation(api.deployments.create, {
      deploymentId: input.id,
      ownerId: input.ownerId,
      agentId: input.agentId,
      workflowId: input.workflowId,
      // a list, not a record: file paths need not be Convex field names
      source: { type, entry, files: Object.entries(files).map(([path, text]) => ({ path, text })) },
      now: ms(input.now),
    });
  }

  getDeployment(ownerId: string, deploymentId: string): Promise<Deployment> {
    return this.query(api.deployments.get, { ownerId, deploymentId });
  }

  async getDeploymentSource(ownerId: string, deploymentId: string): Promise<FilesSource> {
    const { type, entry, files } = await this.query(api.deployments.source, { ownerId, deploymentId });
    return { type, entry, files: Object.fromEntries(files.map((f) => [f.path, f.text])) };
  }

  async listDeployments(ownerId: string, agentId: string, page: PageQuery): Promise<Page<Deployment>> {
    const before = decodeCursor(page.cursor, z.number().int());
    return toPage(await this.query(api.deployments.list, { ownerId, agentId, limit: page.limit, before }));
  }

  transitionDeployment(input: TransitionInput): Promise<Deployment> {
    return this.mutation(api.deployments.transition, { ...input, now: ms(input.now) });
  }

  async recordDeploymentStep(input: { ownerId: string; deploymentId: string; entry: StepLogEntry; providerRef?: string }): Promise<void> {
    await this.mutation(api.deployments.recordStep, input);
  }

  switchActiveDeployment(input: { ownerId: string; agentId: string; expected: string | null; next: string | null; now: Date }): Promise<boolean> {
    return this.mutation(api.agents.switchActive, { ...input, now: ms(input.now) });
  }

  getServingTarget(ownerId: string, agentId: string): Promise<ServingTarget> {
    return this.query(api.agents.servingTarget, { ownerId, agentId });
  }

  watchServing(onChange: (agentId: string) => void): Promise<() => Promise<void>> {
    return this.follow(
      true,
      (c) => onChange(c.id),
      () => onChange('*'),
    );
  }

  async beginIdempotent(input: { ownerId: string; key: string; requestHash: string; now: Date }): Promise<IdempotencyBegin> {
    const begun = await this.mutation(api.idempotency.begin, { ...input, now: ms(input.now) });
    return begun.state === 'done' ? { state: 'done', status: begun.status, body: json(begun.body) } : begun;
  }

  async completeIdempotent(input: { ownerId: string; key: string; status: number; body: unknown }): Promise<void> {
    // as the SQL store keeps it: an answer without a body replays as null
    await this.mutation(api.idempotency.complete, { ...input, body: JSON.stringify(input.body ?? null) });
  }

  async abandonIdempotent(input: { ownerId: string; key: string }): Promise<void> {
    await this.mutation(api.idempotency.abandon, input);
  }

  getUser(userId: string): Promise<User> {
    return this.query(api.users.get, { userId });
  }

  setUserTier(input: { userId: string; tier: Tier; now: Date }): Promise<User> {
    return this.mutation(api.users.setTier, { ...input, now: ms(input.now) });
  }

  setUserBilling(input: { userId: string; billing: Partial<BillingState>; now: Date }): Promise<User> {
    return this.mutation(api.users.setBilling, { ...input, now: ms(input.now) });
  }

  putSecretMetadata(input: { ownerId: string; agentId: string; name: string; now: Date }): Promise<SecretMetadata> {
    return this.mutation(api.secrets.put, { ...input, now: ms(input.now) });
  }

  listSecretMetadata(ownerId: string, agentId: string): Promise<SecretMetadata[]> {
    return this.query(api.secrets.list, { ownerId, agentId });
  }

  async deleteSecretMetadata(input: { ownerId: string; agentId: string; name: string }): Promise<void> {
    await this.mutation(api.secrets.remove, input);
  }

  createApiKey(input: { id: string; ownerId: string; name: string; prefix: string; hash: string; now: Date }): Promise<ApiKey> {
    const { id, now, ...key } = input;
    return this.mutation(api.apiKeys.create, { ...key, keyId: id, now: ms(now) });
  }

  listApiKeys(ownerId: string): Promise<ApiKey[]> {
    return this.query(api.apiKeys.list, { ownerId });
  }

  revokeApiKey(input: { ownerId: string; id: string; now: Date }): Promise<ApiKey> {
    return this.mutation(api.apiKeys.revoke, { ownerId: input.ownerId, keyId: input.id, now: ms(input.now) });
  }

  findApiKeyByHash(hash: string): Promise<{ id: string; ownerId: string } | null> {
    return this.query(api.apiKeys.findByHash, { hash });
  }

  ingestTelemetry(input: { ownerId: string; agentId: string; deploymentId: string; events: TelemetryEvent[] }): Promise<{ accepted: number; duplicates: number }> {
    return this.mutation(api.telemetry.ingest, { ...input, events: input.events.map((e) => ({ ...e, at: Date.parse(e.at) })) });
  }

  async listTelemetryEvents(input: { ownerId: string; agentId: string } & PageQuery): Promise<Page<StoredTelemetryEvent>> {
    const before = decodeCursor(input.cursor, z.object({ at: z.number(), eventId: z.string() }));
    return toPage(await this.query(api.telemetry.listEvents, { ownerId: input.ownerId, agentId: input.agentId, limit: input.limit, before }));
  }

  listHourlyMetrics(input: { ownerId: string; agentId: string; from: Date; to: Date }): Promise<HourlyMetric[]> {
    return this.query(api.telemetry.hourly, { ...input, from: ms(input.from), to: ms(input.to) });
  }

  getUsage(input: { ownerId: string; period: Period }): Promise<PeriodUsage[]> {
    return this.query(api.telemetry.usage, input);
  }

  deleteTelemetryBefore(input: { tier: Tier; cutoff: Date; limit: number }): Promise<{ deleted: number }> {
    return this.mutation(api.telemetry.deleteBefore, { ...input, cutoff: ms(input.cutoff) });
  }

  getBillingPeriod(input: { ownerId: string; period: Period }): Promise<BillingPeriod> {
    return this.query(api.billing.getPeriod, input);
  }

  closeBillingPeriod(input: { ownerId: string; period: Period; now: Date }): Promise<{ period: BillingPeriod; closedNow: boolean }> {
    return this.mutation(api.billing.closePeriod, { ...input, now: ms(input.now) });
  }

  recordUsageReport(input: { ownerId: string; period: Period; reportId: string; now: Date }): Promise<boolean> {
    return this.mutation(api.billing.recordUsageReport, { ...input, now: ms(input.now) });
  }

  recordWebhookEvent(input: { provider: string; eventId: string; eventName: string; now: Date }): Promise<boolean> {
    return this.mutation(api.billing.recordWebhookEvent, { ...input, now: ms(input.now) });
  }

  async appendAudit(input: Omit<AuditEntry, 'id' | 'at' | 'details'> & { details?: Record<string, unknown>; now: Date }): Promise<void> {
    const { details, now, ...entry } = input;
    // JSON text: the details' keys are the caller's and need not be Convex field names
    await this.mutation(api.audit.append, { ...entry, details: details === undefined ? null : JSON.stringify(details), now: ms(now) });
  }

  async listAudit(ownerId: string, page: PageQuery): Promise<Page<AuditEntry>> {
    const before = decodeCursor(page.cursor, z.number().int());
    const { items, next } = await this.query(api.audit.list, { ownerId, limit: page.limit, before });
    return toPage({ items: items.map((e) => ({ ...e, details: json(e.details) as AuditEntry['details'] })), next });
  }

  watchChanges(onChange: (change: StoreChange) => void): Promise<() => Promise<void>> {
    return this.follow(
      false,
      ({ ownerId, kind, id }) => onChange({ ownerId, kind, id }),
      // as the SQL store says it: changes may have been missed, re-read everything shown
      () => onChange({ ownerId: '*', kind: 'agent', id: '*' }),
    );
  }

  /** Subscribes to `watch.recent`; resolves, to a function that stops, once the first result is in. */
  private follow(servingOnly: boolean, onNew: (change: Change) => void, onGap: () => void): Promise<() => Promise<void>> {
    const { subscribe } = this.transport;
    if (!subscribe) return Promise.reject(new Error('watching is not supported by this transport: it has no subscriptions'));
    return new Promise((resolve, reject) => {
      const next = followChanges(CHANGE_WINDOW, onNew, onGap);
      let started = false;
      const stop = subscribe.call(
        this.transport,
        api.watch.recent,
        { servingOnly, secret: this.secret },
        (window) => {
          next(window);
          if (!started) resolve(async () => stop());
          started = true;
        },
        (err) => {
          if (started) return onGap();
          stop();
          reject(err);
        },
      );
    });
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}

/** A function's refusal becomes the `AppError` the SQL store would throw; anything else passes unchanged. */
async function refusalsAsAppErrors<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    const data = err instanceof ConvexError ? ErrorData.safeParse(err.data) : undefined;
    if (data?.success) throw new AppError(data.data.code, data.data.message);
    throw err;
  }
}
