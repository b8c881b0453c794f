import { createHash, randomBytes } from 'node:crypto';

/**
 * API keys (architecture.md, Contracts): `whk_` and 32 random bytes in base64url. The store
 * keeps their SHA-256 and a display prefix, never the key: a key is shown once, when it is
 * made. Keys are looked up by their hash, so no comparison of secrets happens here; keys are
 * never logged.
 */
export const API_KEY_MARK = 'whk_';
/** How much of a key is kept and shown to tell keys apart: the mark and 8 characters (48 bits). */
export const API_KEY_PREFIX_LENGTH = 12;
/** The shape of a key: the mark and 43 base64url characters (32 bytes). */
const API_KEY_PATTERN = /^whk_[A-Za-z0-9_-]{43}$/;

export interface NewApiKey {
  key: string;
  prefix: string;
  hash: string;
}

export function newApiKey(): NewApiKey {
  const key = `${API_KEY_MARK}${randomBytes(32).toString('base64url')}`;
  return { key, prefix: apiKeyPrefix(key), hash: hashApiKey(key) };
}

/** Hex SHA-256 of the key: 32 random bytes need no slow hash, and the lookup is by equality. */
export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export const apiKeyPrefix = (key: string): string => key.slice(0, API_KEY_PREFIX_LENGTH);

/** Looks like a key (says nothing about whether it is one). */
export const isApiKeyShaped = (value: string): boolean => API_KEY_PATTERN.test(value);

/** Whether a credential is meant as an API key rather than a user token. */
export const isMeantAsApiKey = (value: string): boolean => value.startsWith(API_KEY_MARK);
