import { Hono } from 'hono';
import {
  AppError,
  Id,
  TELEMETRY_DEPLOYMENT_HEADER,
  TELEMETRY_MAX_BODY_BYTES,
  TELEMETRY_SIGNATURE_HEADER,
  TELEMETRY_TIMESTAMP_HEADER,
  TELEMETRY_WINDOW_S,
  TelemetryBatch,
  type TelemetryAccepted,
} from '../../lib/contracts/index.js';
import { errorResponse } from '../../lib/http/errors.js';
import { limitBody, type AuthedEnv } from '../../lib/http/middleware.js';
import { telemetrySignatureValid } from '../../lib/telemetry/signing.js';
import type { ApiDeps } from '../deps.js';

/** One answer for every credential that does not hold, so a refusal tells nothing about which part failed. */
const badSignature = () => new AppError('unauthorized', 'missing or invalid telemetry signature');

/**
 * `POST /v1/telemetry`: the shim's signed batches (DESIGN.md §5), mounted outside user auth.
 *
 * In this order, each step before anything is read that the next needs:
 * 1. the body is at most `TELEMETRY_MAX_BODY_BYTES` (413, from Content-Length or counted as it streams);
 * 2. the three headers are there and the timestamp is within `TELEMETRY_WINDOW_S` of this
 *    clock (401: a stale batch, or one signed for later, is refused whatever its signature);
 * 3. the deployment exists and the body's HMAC under its key matches (401, the same answer for
 *    an unknown deployment as for a wrong signature);
 * 4. the body is a valid batch (400), and the agent it claims is the deployment's (403: a
 *    valid key of deployment A claiming agent B, whoever owns B);
 * 5. the events are counted, and the log lines kept, for the deployment's owner, agent and
 *    deployment as the store knows them, never as the body says; each event id and line id once
 *    per deployment (`duplicates` are ids it already had: a redelivery or replay within the
 *    window counts nothing more).
 * A refused batch counts and keeps nothing. Answer: 202 `{ accepted, duplicates, logs? }`.
 */
export function telemetryRoutes(deps: ApiDeps) {
  return new Hono<AuthedEnv>().post(
    '/',
    limitBody(TELEMETRY_MAX_BODY_BYTES, (c) =>
      errorResponse(c, 'payload_too_large', `telemetry batches are limited to ${TELEMETRY_MAX_BODY_BYTES} bytes`),
    ),
    async (c) => {
      const deploymentId = c.req.header(TELEMETRY_DEPLOYMENT_HEADER) ?? '';
      const timestamp = c.req.header(TELEMETRY_TIMESTAMP_HEADER) ?? '';
      const signature = c.req.header(TELEMETRY_SIGNATURE_HEADER) ?? '';
      if (!deps.telemetryKey || !deploymentId || !signature || !/^\d{1,12}$/.test(timestamp)) throw badSignature();
      if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TELEMETRY_WINDOW_S) {
        throw new AppError(
          'unauthorized',
          `the batch's timestamp is more than ${TELEMETRY_WINDOW_S} s away from the api's clock`,
        );
      }
      const owner = Id.safeParse(deploymentId).success ? await deps.store.findDeploymentOwner(deploymentId) : null;
      const body = new Uint8Array(await c.req.arrayBuffer());
      // the HMAC is computed for an unknown deployment too, so both refusals take alike
      const signed = telemetrySignatureValid(deps.telemetryKey(deploymentId), timestamp, body, signature);
      if (!owner || !signed) throw badSignature();

      let parsed: unknown;
      try {
        parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
      } catch {
        throw new AppError('validation_failed', 'the batch is not JSON');
      }
      const batch = TelemetryBatch.safeParse(parsed);
      if (!batch.success) {
        const issues = batch.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        throw new AppError('validation_failed', `${issues[0]!.path || 'body'}: ${issues[0]!.message}`, issues);
      }
      if (batch.data.agentId !== owner.agentId) {
        deps.log.warn(
          { deploymentId, requestId: c.get('requestId') },
          'telemetry claims another agent than its deployment’s',
        );
        throw new AppError('forbidden', 'this deployment reports for its own agent only');
      }
      const scope = { ownerId: owner.ownerId, agentId: owner.agentId, deploymentId: owner.deploymentId };
      let result: TelemetryAccepted = { accepted: 0, duplicates: 0 };
      try {
        if (batch.data.events.length > 0) {
          result = await deps.store.ingestTelemetry({ ...scope, events: batch.data.events });
        }
        const lines = batch.data.logs ?? [];
        if (lines.length > 0) {
          result.logs = await deps.store.appendLogs({ ...scope, lines, dropped: batch.data.droppedLogs ?? 0 });
        }
      } catch (err) {
        if (err instanceof AppError && err.code === 'not_found') throw badSignature();
        throw err;
      }
      return c.json(result, 202);
    },
  );
}
