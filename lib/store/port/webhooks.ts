import { z } from 'zod';
import {
  Id,
  WebhookDeliveryStatus,
  WebhookEventType,
  type Page,
  type PageQuery,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEventType as EventType,
} from '../../contracts/index.js';
import { Instant, PageArgs, Short, type Rules } from './rules.js';

/**
 * Outbound webhook endpoints and their deliveries. An endpoint's signing secret is not here:
 * it is derived from the master key (lib/auth/platform-keys.ts `webhookSecrets`). Creating and
 * deleting an endpoint append their audit entry (`webhook.created`, `webhook.deleted`) in the
 * same transaction.
 */
export interface WebhookStore {
  /**
   * `conflict` when the owner already has `maxActive` endpoints (checked under a lock on the
   * owner, so two concurrent creates cannot both pass it).
   */
  createWebhookEndpoint(input: CreateWebhookEndpointInput): Promise<WebhookEndpoint>;
  /** The owner’s endpoints, newest first; deleted ones are gone. */
  listWebhookEndpoints(ownerId: string, page: PageQuery): Promise<Page<WebhookEndpoint>>;
  /**
   * Disables or enables an endpoint (`webhook.disabled` / `webhook.enabled` in the audit log, only
   * when it changes); `not_found` when it is not the owner's or deleted.
   */
  setWebhookEndpointDisabled(input: {
    ownerId: string;
    id: string;
    disabled: boolean;
    actor: string;
    now: Date;
  }): Promise<WebhookEndpoint>;
  /** `not_found` when it is not the owner's, or already deleted. Its pending deliveries give up. */
  deleteWebhookEndpoint(input: { ownerId: string; id: string; actor: string; now: Date }): Promise<void>;
  /** An endpoint's deliveries, newest first; `not_found` when the endpoint is not the owner's (or deleted). */
  listWebhookDeliveries(ownerId: string, endpointId: string, page: PageQuery): Promise<Page<WebhookDelivery>>;
  /**
   * One `pending` delivery of the event to each of the owner's enabled endpoints subscribed to its type;
   * their ids. Once per event id: a repeat records nothing new and answers the same ids. Each
   * endpoint keeps its newest `keepPerEndpoint` deliveries (older final ones are deleted here).
   */
  recordWebhookDeliveries(input: RecordWebhookDeliveriesInput): Promise<{ deliveryIds: string[] }>;
  /**
   * What a delivery attempt needs: the endpoint's URL and the delivery's body; null when the
   * delivery is not the owner's, or its endpoint was deleted.
   */
  getWebhookDeliveryTarget(ownerId: string, deliveryId: string): Promise<WebhookDeliveryTarget | null>;
  /**
   * An attempt's outcome on a still-pending delivery: `attempts` becomes at least `attempt`, and
   * `status` is final when it is not `pending`. A delivery that is final already is left as it is.
   */
  recordWebhookAttempt(input: RecordWebhookAttemptInput): Promise<WebhookDelivery>;
}

export interface CreateWebhookEndpointInput {
  id: string;
  ownerId: string;
  url: string;
  events: EventType[];
  description: string | null;
  /** Who made it, for the audit log (`user:<id>`). */
  actor: string;
  /** Refused when the owner already has this many endpoints. */
  maxActive: number;
  now: Date;
}

export interface RecordWebhookDeliveriesInput {
  ownerId: string;
  eventId: string;
  type: EventType;
  agentId: string;
  deploymentId: string;
  /** The delivery's body (JSON text), sent as it is in every attempt. */
  body: string;
  /**
   * How many of an endpoint's deliveries are kept: older ones that are final are deleted as new
   * ones are recorded (a pending one is kept until it ends, and goes with a later event).
   */
  keepPerEndpoint: number;
  now: Date;
}

export interface WebhookDeliveryTarget {
  deliveryId: string;
  endpointId: string;
  url: string;
  body: string;
  status: WebhookDelivery['status'];
}

export interface RecordWebhookAttemptInput {
  ownerId: string;
  deliveryId: string;
  /** The attempt's number, from 1. */
  attempt: number;
  status: WebhookDelivery['status'];
  responseStatus: number | null;
  error: string | null;
  now: Date;
}

/** The longest delivery body kept. */
export const WEBHOOK_BODY_MAX_CHARS = 16_384;

const Url = z.string().min(1).max(2048);

export const webhookRules: Rules<WebhookStore> = {
  createWebhookEndpoint: z.tuple([
    z.object({
      id: Id,
      ownerId: Id,
      url: Url,
      events: z.array(WebhookEventType).min(1).max(WebhookEventType.options.length),
      description: z.string().max(256).nullable(),
      actor: Short(128),
      maxActive: z.number().int().min(1),
      now: Instant,
    }),
  ]),
  listWebhookEndpoints: z.tuple([Id, PageArgs]),
  setWebhookEndpointDisabled: z.tuple([
    z.object({ ownerId: Id, id: Id, disabled: z.boolean(), actor: Short(128), now: Instant }),
  ]),
  deleteWebhookEndpoint: z.tuple([z.object({ ownerId: Id, id: Id, actor: Short(128), now: Instant })]),
  listWebhookDeliveries: z.tuple([Id, Id, PageArgs]),
  recordWebhookDeliveries: z.tuple([
    z.object({
      ownerId: Id,
      eventId: Id,
      type: WebhookEventType,
      agentId: Id,
      deploymentId: Id,
      body: z.string().min(2).max(WEBHOOK_BODY_MAX_CHARS),
      keepPerEndpoint: z.number().int().min(1).max(100_000),
      now: Instant,
    }),
  ]),
  getWebhookDeliveryTarget: z.tuple([Id, Id]),
  recordWebhookAttempt: z.tuple([
    z.object({
      ownerId: Id,
      deliveryId: Id,
      attempt: z.number().int().min(1),
      status: WebhookDeliveryStatus,
      responseStatus: z.number().int().min(100).max(599).nullable(),
      error: z.string().max(1024).nullable(),
      now: Instant,
    }),
  ]),
};
