import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LocalKeyPair {
  publicKeyPem: string;
  privateKeyPem: string;
}

/**
 * The local signing key used when no Clerk keys are set: RSA-2048 with exponent 65537,
 * the only shape `@clerk/backend` accepts as a PEM `jwtKey`. Made once, kept under
 * `dataDir/auth/`, readable by the owner only.
 */
export function ensureLocalKeyPair(dataDir: string): LocalKeyPair {
  const dir = join(dataDir, 'auth');
  const pub = join(dir, 'jwt-public.pem');
  const priv = join(dir, 'jwt-private.pem');
  if (!existsSync(pub) || !existsSync(priv)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicExponent: 0x10001,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    // `wx` fails if another process made the key first; then we read theirs.
    try {
      writeFileSync(priv, privateKey, { mode: 0o600, flag: 'wx' });
      writeFileSync(pub, publicKey, { mode: 0o644, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return { publicKeyPem: readFileSync(pub, 'utf8'), privateKeyPem: readFileSync(priv, 'utf8') };
}
