import { verifyToken } from '@clerk/backend';
import { AppError } from '../contracts/index.js';
import { ensureLocalKeyPair } from './local-keys.js';

export interface Principal {
  userId: string;
}

export type Authenticator = (authorization: string | undefined) => Promise<Principal>;

export type AuthConfig =
  | { mode: 'clerk-pem'; jwtKey: string; authorizedParties?: string[] }
  | { mode: 'clerk-secret'; secretKey: string; authorizedParties?: string[] }
  | { mode: 'local'; jwtKey: string };

/**
 * Clerk when its keys are set (`CLERK_JWT_KEY` networkless, else `CLERK_SECRET_KEY` with
 * JWKS), otherwise the local key pair under `dataDir`. Every mode verifies with the same
 * `verifyToken` call of `@clerk/backend`.
 */
export function authConfigFromEnv(env: NodeJS.ProcessEnv, dataDir: string): AuthConfig {
  const authorizedParties = env.CLERK_AUTHORIZED_PARTIES?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (env.CLERK_JWT_KEY)
    return { mode: 'clerk-pem', jwtKey: env.CLERK_JWT_KEY, ...(authorizedParties ? { authorizedParties } : {}) };
  if (env.CLERK_SECRET_KEY)
    return {
      mode: 'clerk-secret',
      secretKey: env.CLERK_SECRET_KEY,
      ...(authorizedParties ? { authorizedParties } : {}),
    };
  return { mode: 'local', jwtKey: ensureLocalKeyPair(dataDir).publicKeyPem };
}

/** How many verified tokens to remember; a verified token is trusted until its `exp`. */
const CACHE_SIZE = 10_000;

export function createAuthenticator(config: AuthConfig): Authenticator {
  const options = config.mode === 'clerk-secret' ? { secretKey: config.secretKey } : { jwtKey: config.jwtKey };
  const authorizedParties = config.mode === 'local' ? undefined : config.authorizedParties;
  // Signature checks cost a WebCrypto key import and an RSA verify; the invoke hot path
  // sees the same token many times, so a verified token is remembered until it expires.
  const verified = new Map<string, { userId: string; exp: number }>();

  return async (authorization) => {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) throw new AppError('unauthorized', 'missing bearer token');
    const hit = verified.get(token);
    if (hit && hit.exp * 1000 > Date.now()) return { userId: hit.userId };
    if (hit) verified.delete(token);

    let claims: { sub?: unknown; exp: number };
    try {
      // The public verifyToken resolves with the claims and throws TokenVerificationError otherwise.
      claims = await verifyToken(token, { ...options, ...(authorizedParties ? { authorizedParties } : {}) });
    } catch {
      throw new AppError('unauthorized', 'invalid or expired token');
    }
    const { sub, exp } = claims;
    if (typeof sub !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(sub))
      throw new AppError('unauthorized', 'token subject is not a user id');
    if (verified.size >= CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(token, { userId: sub, exp });
    return { userId: sub };
  };
}
