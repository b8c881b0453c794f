import { v7 as uuidv7 } from 'uuid';

/**
 * Opaque, prefixed, time-ordered ids (`agt_0192…`). Time order makes `id` a stable
 * pagination key: rows inserted later sort after every cursor handed out before.
 */
export function newId(prefix: 'usr' | 'agt' | 'dep' | 'req' | 'ses' | 'aud' | 'key' | 'whe' | 'whd' | 'evt'): string {
  return `${prefix}_${uuidv7().replaceAll('-', '')}`;
}
