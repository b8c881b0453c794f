import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiKeyPrefix, hashApiKey, isApiKeyShaped, isMeantAsApiKey, newApiKey } from './api-keys.js';

describe('API key format', () => {
  it('makes whk_ and 32 random bytes in base64url, kept as a SHA-256 and a 12-character prefix', () => {
    const { key, prefix, hash } = newApiKey();
    expect(key).toMatch(/^whk_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.slice(4), 'base64url')).toHaveLength(32);
    expect(prefix).toBe(key.slice(0, 12));
    expect(prefix).toBe(apiKeyPrefix(key));
    expect(hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(hash).toBe(hashApiKey(key));
    expect(hash).not.toContain(key.slice(4));
  });

  it('never makes the same key twice', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => newApiKey().key));
    expect(keys.size).toBe(1000);
  });

  it('tells a key-shaped string from anything else', () => {
    const { key } = newApiKey();
    expect(isApiKeyShaped(key)).toBe(true);
    for (const bad of [
      `${key}x`,
      key.slice(0, -1),
      `whk_${'!'.repeat(43)}`,
      `WHK_${key.slice(4)}`,
      '',
      'eyJhbGciOi.x.y',
    ])
      expect(isApiKeyShaped(bad)).toBe(false);
    expect(isMeantAsApiKey(key)).toBe(true);
    expect(isMeantAsApiKey('eyJhbGciOi.x.y')).toBe(false);
  });
});
