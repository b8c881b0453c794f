import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The platform's master key: `WEBHOST_ENCRYPTION_KEY` (32 bytes, base64), else one made
 * once under `dataDir/keys/` (readable by the owner only). Every platform secret that
 * processes must agree on without talking (invoke tokens, telemetry keys) is derived from it.
 */
export function loadMasterKey(env: NodeJS.ProcessEnv, dataDir: string): Buffer {
  if (env.WEBHOST_ENCRYPTION_KEY) {
    const key = Buffer.from(env.WEBHOST_ENCRYPTION_KEY, 'base64');
    if (key.length !== 32) throw new Error('WEBHOST_ENCRYPTION_KEY must be 32 bytes, base64-encoded');
    return key;
  }
  const dir = join(dataDir, 'keys');
  const path = join(dir, 'master.key');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
}

/** A key for one purpose, so a secret derived for one use is worthless for another. */
function derive(master: Buffer, purpose: string): Buffer {
  return createHmac('sha256', master).update(`webhost.systems/${purpose}`).digest();
}

/** How many deployments' tokens a process keeps computed. */
const TOKEN_CACHE = 10_000;

/**
 * The per-deployment invoke token: what the gateway (and the runtime's health check) sends
 * with every call, and what the shim in the agent checks before the agent sees a request.
 */
export function invokeTokens(master: Buffer): (deploymentId: string) => string {
  const key = derive(master, 'invoke-token/v1');
  const cache = new Map<string, string>();
  return (deploymentId) => {
    let token = cache.get(deploymentId);
    if (token === undefined) {
      token = createHmac('sha256', key).update(deploymentId).digest('base64url');
      if (cache.size >= TOKEN_CACHE) cache.delete(cache.keys().next().value!);
      cache.set(deploymentId, token);
    }
    return token;
  };
}

/**
 * The per-deployment telemetry key: HMAC-SHA256 of the deployment id under a key derived from
 * the master key for this one purpose (DESIGN.md §5). The runtime gives it to the shim as a
 * secret binding (hex); the shim signs its telemetry with it and the api checks the signature
 * by deriving it again, so no key is ever stored. A key signs for its own deployment only.
 */
export function telemetryKeys(master: Buffer): (deploymentId: string) => Buffer {
  const key = derive(master, 'telemetry-key/v1');
  const cache = new Map<string, Buffer>();
  return (deploymentId) => {
    let derived = cache.get(deploymentId);
    if (derived === undefined) {
      derived = createHmac('sha256', key).update(deploymentId).digest();
      if (cache.size >= TOKEN_CACHE) cache.delete(cache.keys().next().value!);
      cache.set(deploymentId, derived);
    }
    return derived;
  };
}

/**
 * An endpoint's webhook signing secret (`whsec_` and 32 bytes in base64, as Standard Webhooks
 * has it): HMAC-SHA256 of the endpoint id under a key derived from the master key for this one
 * purpose. The api derives it to show it once, when the endpoint is made; the delivery activity
 * derives it again to sign. It is never stored, logged, or passed through a workflow.
 */
export function webhookSecrets(master: Buffer): (endpointId: string) => string {
  const key = derive(master, 'webhook-secret/v1');
  return (endpointId) => `whsec_${createHmac('sha256', key).update(endpointId).digest('base64')}`;
}

/** The key of the Temporal payload codec (lib/temporal/codec.ts): workflow histories hold only ciphertext. */
export function payloadCodecKey(master: Buffer): Buffer {
  return derive(master, 'temporal-payload-codec/v1');
}

/**
 * The operator token: what `npm run admin` sends to the running platform's `/admin/*` routes.
 * Whoever can read the master key is an operator already; no user token is one.
 */
export function operatorToken(master: Buffer): string {
  return derive(master, 'operator-token/v1').toString('base64url');
}
