import { z } from 'zod';
import { Id } from './common.js';

// Outbound webhooks for deploy events (README, Webhooks): an owner registers an endpoint, the
// platform signs each delivery the Standard Webhooks way (lib/webhooks/signing.ts) and retries
// it on a Temporal workflow (workflows/webhooks/).

/** The events an endpoint may subscribe to. */
export const WebhookEventType = z.enum(['deployment.live', 'deployment.failed', 'rollback.completed']);
export type WebhookEventType = z.infer<typeof WebhookEventType>;

/** The longest endpoint URL taken. */
export const WEBHOOK_URL_MAX_LENGTH = 2048;

/** A registered endpoint, as the api shows it. Its signing secret is shown once, when it is made, and never again. */
export const WebhookEndpoint = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(WebhookEventType),
  description: z.string().nullable(),
  createdAt: z.string(),
  /** A disabled endpoint gets no new deliveries (those already under way go on). */
  disabled: z.boolean(),
});
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

/** `POST /v1/webhooks`. Whether the URL may be used (https, no private address) is checked apart (lib/webhooks/url.ts). */
export const CreateWebhookBody = z.strictObject(
  {
    url: z
      .string({ error: 'url must be a string' })
      .max(WEBHOOK_URL_MAX_LENGTH, `url must be at most ${WEBHOOK_URL_MAX_LENGTH} characters`),
    events: z
      .array(WebhookEventType, { error: 'events must be a list of event types' })
      .min(1, 'events must name at least one event type')
      .refine((events) => new Set(events).size === events.length, 'events must not repeat'),
    description: z
      .string({ error: 'description must be a string' })
      .trim()
      .max(256, 'description must be at most 256 characters')
      .optional(),
  },
  {
    error: (iss) =>
      iss.code === 'unrecognized_keys' ? 'only "url", "events" and "description" are accepted' : undefined,
  },
);
export type CreateWebhookBody = z.infer<typeof CreateWebhookBody>;

/** `PATCH /v1/webhooks/:id`: stop sending new events to an endpoint, or start again. */
export const UpdateWebhookBody = z.strictObject(
  { disabled: z.boolean({ error: 'disabled must be true or false' }) },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? 'only "disabled" is accepted' : undefined) },
);
export type UpdateWebhookBody = z.infer<typeof UpdateWebhookBody>;

/** The answer to `POST /v1/webhooks`: the only time the signing secret (`whsec_…`) is shown. */
export const CreatedWebhookEndpoint = WebhookEndpoint.extend({ secret: z.string() });
export type CreatedWebhookEndpoint = z.infer<typeof CreatedWebhookEndpoint>;

export const WebhookDeliveryStatus = z.enum(['pending', 'succeeded', 'failed']);
export type WebhookDeliveryStatus = z.infer<typeof WebhookDeliveryStatus>;

/** One event sent to one endpoint, retried until it succeeds or gives up. Its id is the `webhook-id` header. */
export const WebhookDelivery = z.object({
  id: z.string(),
  endpointId: z.string(),
  /** The event's id (`id` in the body): the same in every endpoint's delivery of one event. */
  eventId: z.string(),
  eventType: WebhookEventType,
  agentId: z.string(),
  deploymentId: z.string(),
  status: WebhookDeliveryStatus,
  attempts: z.number().int(),
  /** The HTTP status of the last answer, null when none came (timeout, connection refused). */
  lastResponseStatus: z.number().int().nullable(),
  /** What went wrong last: the status and the start of the answer's body, or the network error. */
  lastError: z.string().nullable(),
  createdAt: z.string(),
  lastAttemptAt: z.string().nullable(),
  /** When it succeeded or gave up. */
  finishedAt: z.string().nullable(),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

/** What a delivery's body says, beside the event's type and id. */
export const WebhookEventData = z.looseObject({ agentId: Id, deploymentId: Id });
export type WebhookEventData = z.infer<typeof WebhookEventData>;

/** The body of every delivery, JSON; the same bytes in every attempt, so a receiver can dedupe by `webhook-id`. */
export const WebhookPayload = z.object({
  type: WebhookEventType,
  id: z.string(),
  createdAt: z.string(),
  data: WebhookEventData,
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

/** The headers of a delivery (Standard Webhooks). */
export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';

/** How far a delivery's timestamp may be from the receiver's clock before `verifyWebhook` refuses it. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;
/** The most of an answer's body kept on a delivery (in its `lastError`). */
export const WEBHOOK_RESPONSE_SNIPPET_CHARS = 200;
