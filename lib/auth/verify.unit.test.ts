import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ensureLocalKeyPair } from './local-keys.js';
import { signLocalToken } from './sign.js';
import { authConfigFromEnv, createAuthenticator } from './verify.js';

const dataDir = mkdtempSync(join(tmpdir(), 'wh-auth-'));
const keys = ensureLocalKeyPair(dataDir);
const authenticate = createAuthenticator(authConfigFromEnv({}, dataDir));

async function sign(privateKeyPem: string, claims: Record<string, unknown>, exp: number) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'local' })
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(await importPKCS8(privateKeyPem, 'RS256'));
}

describe('authenticator (local key, verified by @clerk/backend verifyToken)', () => {
  it('keeps one key pair in the data dir', () => {
    expect(ensureLocalKeyPair(dataDir)).toEqual(keys);
    expect(keys.publicKeyPem).toContain('BEGIN PUBLIC KEY');
  });

  it('accepts a token from `npm run token`', async () => {
    const token = await signLocalToken(keys.privateKeyPem, 'alice');
    await expect(authenticate(`Bearer ${token}`)).resolves.toEqual({ userId: 'alice' });
    await expect(authenticate(`bearer ${token}`)).resolves.toEqual({ userId: 'alice' });
  });

  it('refuses a missing or malformed header', async () => {
    await expect(authenticate(undefined)).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(authenticate('Basic abc')).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(authenticate('Bearer not.a.jwt')).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('refuses a token signed by another key', async () => {
    const other = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const forged = await sign(other.privateKey, { sub: 'alice' }, Math.floor(Date.now() / 1000) + 60);
    await expect(authenticate(`Bearer ${forged}`)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('refuses an expired token', async () => {
    const expired = await sign(keys.privateKeyPem, { sub: 'alice' }, Math.floor(Date.now() / 1000) - 120);
    await expect(authenticate(`Bearer ${expired}`)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('refuses a token whose subject is not a user id', async () => {
    const weird = await sign(keys.privateKeyPem, { sub: '../../etc' }, Math.floor(Date.now() / 1000) + 60);
    await expect(authenticate(`Bearer ${weird}`)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('uses Clerk’s key when CLERK_JWT_KEY is set, so local tokens stop working', async () => {
    const clerk = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicExponent: 0x10001,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const clerkAuth = createAuthenticator(authConfigFromEnv({ CLERK_JWT_KEY: clerk.publicKey }, dataDir));
    const clerkToken = await sign(clerk.privateKey, { sub: 'user_2abc' }, Math.floor(Date.now() / 1000) + 60);
    await expect(clerkAuth(`Bearer ${clerkToken}`)).resolves.toEqual({ userId: 'user_2abc' });
    await expect(clerkAuth(`Bearer ${await signLocalToken(keys.privateKeyPem, 'alice')}`)).rejects.toMatchObject({
      code: 'unauthorized',
    });
  });
});
