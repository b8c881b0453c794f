import { z } from 'zod';
import {
  AppError,
  notFound,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEventType,
} from '../../contracts/index.js';
import { newId } from '../../ids.js';
import { decodeCursor, pageOfRows } from '../paging.js';
import type { WebhookStore } from '../port/index.js';
import { insertAudit } from './audit.js';
import { isUniqueViolation, type SqlClient } from './client.js';
import { iso, isoOrNull, type Row } from './rows.js';

const toEndpoint = (r: Row): WebhookEndpoint => ({
  id: r.id as string,
  url: r.url as string,
  events: r.events as WebhookEventType[],
  description: (r.description as string | null) ?? null,
  createdAt: iso(r.created_at),
  disabled: r.disabled_at != null,
});

const toDelivery = (r: Row): WebhookDelivery => ({
  id: r.id as string,
  endpointId: r.endpoint_id as string,
  eventId: r.event_id as string,
  eventType: r.event_type as WebhookEventType,
  agentId: r.agent_id as string,
  deploymentId: r.deployment_id as string,
  status: r.status as WebhookDelivery['status'],
  attempts: Number(r.attempts),
  lastResponseStatus: r.last_response_status == null ? null : Number(r.last_response_status),
  lastError: (r.last_error as string | null) ?? null,
  createdAt: iso(r.created_at),
  lastAttemptAt: isoOrNull(r.last_attempt_at),
  finishedAt: isoOrNull(r.finished_at),
});

/** A delivery's columns as it is shown: never its body. */
const DELIVERY = `id, endpoint_id, event_id, event_type, agent_id, deployment_id, status, attempts,
  last_response_status, last_error, created_at, last_attempt_at, finished_at`;

export function sqlWebhooks(db: SqlClient): WebhookStore {
  return {
    async createWebhookEndpoint(input) {
      try {
        return await db.transaction(async (tx) => {
          // The owner's row, locked: concurrent creates of one owner take turns, so the count holds.
          const owner = await tx.query(`select id from users where id = $1 for update`, [input.ownerId]);
          if (!owner.rows[0]) throw notFound('user');
          const { rows: counted } = await tx.query<{ n: number }>(
            `select count(*)::int as n from webhook_endpoints where owner_id = $1 and deleted_at is null`,
            [input.ownerId],
          );
          if (counted[0]!.n >= input.maxActive) {
            throw new AppError(
              'conflict',
              `an account has at most ${input.maxActive} webhook endpoints; delete one before adding another`,
              { limit: input.maxActive },
            );
          }
          const { rows } = await tx.query(
            `insert into webhook_endpoints (id, owner_id, url, events, description, created_at)
             values ($1, $2, $3, $4, $5, $6) returning *`,
            [input.id, input.ownerId, input.url, input.events, input.description, input.now],
          );
          await insertAudit(tx, {
            ownerId: input.ownerId,
            actor: input.actor,
            action: 'webhook.created',
            targetType: 'webhook',
            targetId: input.id,
            details: { url: input.url, events: input.events },
            now: input.now,
          });
          return toEndpoint(rows[0]!);
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new AppError('conflict', 'a webhook endpoint with this id exists');
        throw err;
      }
    },

    async listWebhookEndpoints(ownerId, q) {
      const after = decodeCursor(q.cursor, z.string());
      const { rows } = await db.query(
        `select * from webhook_endpoints where owner_id = $1 and deleted_at is null and ($2::text is null or id < $2)
         order by id desc limit $3`,
        [ownerId, after ?? null, q.limit + 1],
      );
      return pageOfRows(rows.map(toEndpoint), q.limit, (e) => e.id);
    },

    async setWebhookEndpointDisabled(input) {
      return db.transaction(async (tx) => {
        const { rows: changed } = await tx.query(
          `update webhook_endpoints set disabled_at = case when $3 then $4::timestamptz else null end
           where id = $1 and owner_id = $2 and deleted_at is null and (disabled_at is not null) <> $3 returning *`,
          [input.id, input.ownerId, input.disabled, input.now],
        );
        if (changed[0]) {
          await insertAudit(tx, {
            ownerId: input.ownerId,
            actor: input.actor,
            action: input.disabled ? 'webhook.disabled' : 'webhook.enabled',
            targetType: 'webhook',
            targetId: input.id,
            now: input.now,
          });
          return toEndpoint(changed[0]);
        }
        const { rows } = await tx.query(
          `select * from webhook_endpoints where id = $1 and owner_id = $2 and deleted_at is null`,
          [input.id, input.ownerId],
        );
        if (!rows[0]) throw notFound('webhook endpoint');
        return toEndpoint(rows[0]);
      });
    },

    async deleteWebhookEndpoint(input) {
      await db.transaction(async (tx) => {
        const { rows } = await tx.query(
          `update webhook_endpoints set deleted_at = $3 where id = $1 and owner_id = $2 and deleted_at is null returning *`,
          [input.id, input.ownerId, input.now],
        );
        if (!rows[0]) throw notFound('webhook endpoint');
        await tx.query(
          `update webhook_deliveries set status = 'failed', last_error = 'the endpoint was deleted', finished_at = $2
           where endpoint_id = $1 and status = 'pending'`,
          [input.id, input.now],
        );
        await insertAudit(tx, {
          ownerId: input.ownerId,
          actor: input.actor,
          action: 'webhook.deleted',
          targetType: 'webhook',
          targetId: input.id,
          details: { url: rows[0].url as string },
          now: input.now,
        });
      });
    },

    async listWebhookDeliveries(ownerId, endpointId, q) {
      const after = decodeCursor(q.cursor, z.string());
      const { rows: endpoint } = await db.query(
        `select 1 from webhook_endpoints where id = $1 and owner_id = $2 and deleted_at is null`,
        [endpointId, ownerId],
      );
      if (!endpoint[0]) throw notFound('webhook endpoint');
      const { rows } = await db.query(
        `select ${DELIVERY} from webhook_deliveries where endpoint_id = $1 and owner_id = $2
         and ($3::text is null or id < $3) order by id desc limit $4`,
        [endpointId, ownerId, after ?? null, q.limit + 1],
      );
      return pageOfRows(rows.map(toDelivery), q.limit, (d) => d.id);
    },

    async recordWebhookDeliveries(input) {
      return db.transaction(async (tx) => {
        const { rows: endpoints } = await tx.query<{ id: string }>(
          `select id from webhook_endpoints where owner_id = $1 and deleted_at is null and disabled_at is null
           and $2 = any(events) order by id`,
          [input.ownerId, input.type],
        );
        for (const endpoint of endpoints) {
          await tx.query(
            `insert into webhook_deliveries (id, owner_id, endpoint_id, event_id, event_type, agent_id, deployment_id,
               body, status, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9) on conflict (endpoint_id, event_id) do nothing`,
            [
              newId('whd'),
              input.ownerId,
              endpoint.id,
              input.eventId,
              input.type,
              input.agentId,
              input.deploymentId,
              input.body,
              input.now,
            ],
          );
          // bounded per endpoint: final deliveries older than the newest `keepPerEndpoint` go
          await tx.query(
            `delete from webhook_deliveries where endpoint_id = $1 and status <> 'pending' and id < (
               select id from webhook_deliveries where endpoint_id = $1 order by id desc offset $2 limit 1)`,
            [endpoint.id, input.keepPerEndpoint - 1],
          );
        }
        const { rows } = await tx.query<{ id: string }>(
          `select id from webhook_deliveries where event_id = $1 and owner_id = $2 order by id`,
          [input.eventId, input.ownerId],
        );
        return { deliveryIds: rows.map((r) => r.id) };
      });
    },

    async getWebhookDeliveryTarget(ownerId, deliveryId) {
      const { rows } = await db.query(
        `select d.id, d.endpoint_id, d.body, d.status, e.url from webhook_deliveries d
         join webhook_endpoints e on e.id = d.endpoint_id
         where d.id = $1 and d.owner_id = $2 and e.deleted_at is null`,
        [deliveryId, ownerId],
      );
      const r = rows[0];
      if (!r) return null;
      return {
        deliveryId: r.id as string,
        endpointId: r.endpoint_id as string,
        url: r.url as string,
        body: r.body as string,
        status: r.status as WebhookDelivery['status'],
      };
    },

    async recordWebhookAttempt(input) {
      const final = input.status !== 'pending';
      const { rows } = await db.query(
        `update webhook_deliveries set attempts = greatest(attempts, $3), status = $4, last_response_status = $5,
           last_error = $6, last_attempt_at = $7, finished_at = case when $8 then $7::timestamptz else null end
         where id = $1 and owner_id = $2 and status = 'pending' returning ${DELIVERY}`,
        [
          input.deliveryId,
          input.ownerId,
          input.attempt,
          input.status,
          input.responseStatus,
          input.error,
          input.now,
          final,
        ],
      );
      if (rows[0]) return toDelivery(rows[0]);
      const { rows: current } = await db.query(
        `select ${DELIVERY} from webhook_deliveries where id = $1 and owner_id = $2`,
        [input.deliveryId, input.ownerId],
      );
      if (!current[0]) throw notFound('webhook delivery');
      return toDelivery(current[0]);
    },
  };
}
