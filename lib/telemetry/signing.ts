import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  TELEMETRY_DEPLOYMENT_HEADER,
  TELEMETRY_SIGNATURE_HEADER,
  TELEMETRY_TIMESTAMP_HEADER,
} from '../contracts/index.js';

// Signing of the shim's telemetry (DESIGN.md §5). The shim does the same in workerd with
// WebCrypto (lib/runtime/shim); this is the api's side, and what tests sign with.

/** Hex HMAC-SHA256 of `<timestamp>.<body>` under a deployment's telemetry key. */
export function signTelemetry(key: Buffer, timestamp: string, body: string | Uint8Array): string {
  return createHmac('sha256', key).update(`${timestamp}.`).update(body).digest('hex');
}

/** Whether `signature` is the body's signature under `key`; compared in constant time. */
export function telemetrySignatureValid(
  key: Buffer,
  timestamp: string,
  body: string | Uint8Array,
  signature: string,
): boolean {
  if (!/^[0-9a-f]{64}$/i.test(signature)) return false;
  const expected = Buffer.from(signTelemetry(key, timestamp, body), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/** The headers of a signed batch, as the shim sends them. */
export function telemetryHeaders(input: {
  key: Buffer;
  deploymentId: string;
  body: string;
  now?: Date;
}): Record<string, string> {
  const timestamp = String(Math.floor((input.now ?? new Date()).getTime() / 1000));
  return {
    'content-type': 'application/json',
    [TELEMETRY_DEPLOYMENT_HEADER]: input.deploymentId,
    [TELEMETRY_TIMESTAMP_HEADER]: timestamp,
    [TELEMETRY_SIGNATURE_HEADER]: signTelemetry(input.key, timestamp, input.body),
  };
}
