import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalKeyPair } from '../../lib/auth/local-keys.js';
import { signLocalToken } from '../../lib/auth/sign.js';
import { authConfigFromEnv, createAuthenticator } from '../../lib/auth/verify.js';

/** A local key pair in a temp dir, its authenticator, and tokens for any user. */
export function localAuth() {
  const dataDir = mkdtempSync(join(tmpdir(), 'wh-auth-'));
  const { privateKeyPem } = ensureLocalKeyPair(dataDir);
  return {
    authenticate: createAuthenticator(authConfigFromEnv({}, dataDir)),
    token: (userId: string) => signLocalToken(privateKeyPem, userId),
  };
}
