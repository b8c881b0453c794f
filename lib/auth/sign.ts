import { importPKCS8, SignJWT } from 'jose';

/** A session token for a local user, shaped like Clerk's (RS256, `sub`, `iat`, `nbf`, `exp`). */
export async function signLocalToken(privateKeyPem: string, userId: string, ttlSeconds = 24 * 3600): Promise<string> {
  const key = await importPKCS8(privateKeyPem, 'RS256');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'local' })
    .setSubject(userId)
    .setIssuedAt(now)
    .setNotBefore(now - 5)
    .setExpirationTime(now + ttlSeconds)
    .sign(key);
}
