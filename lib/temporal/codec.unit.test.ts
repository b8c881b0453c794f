import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { EncryptionCodec, ENCRYPTED_ENCODING } from './codec.js';

const codec = new EncryptionCodec(Buffer.alloc(32, 1));
const canary = 'canary-7f3a9c-secret-value';

describe('the Temporal payload codec', () => {
  it('seals a payload so neither its value nor its encoding can be read, and opens it again', async () => {
    const payload = defaultPayloadConverter.toPayload({ name: 'API_KEY', value: canary });
    const [sealed] = await codec.encode([payload]);
    expect(Buffer.from(sealed!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    const wire = Buffer.from(JSON.stringify(sealed, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v)));
    for (const form of [canary, Buffer.from(canary).toString('base64'), Buffer.from(canary).toString('hex')]) {
      expect(wire.includes(form)).toBe(false);
      expect(Buffer.from(sealed!.data!).includes(form)).toBe(false);
    }
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ name: 'API_KEY', value: canary });
  });

  it('uses a fresh nonce each time: the same value seals differently', async () => {
    const payload = defaultPayloadConverter.toPayload('same');
    const [a, b] = await codec.encode([payload, payload]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('passes through payloads it did not seal (histories recorded before it)', async () => {
    const plain = defaultPayloadConverter.toPayload({ old: true });
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('refuses a payload sealed with another key, and one that was tampered with', async () => {
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(canary)]);
    await expect(new EncryptionCodec(Buffer.alloc(32, 2)).decode([sealed!])).rejects.toThrow(/another key/);
    const data = Buffer.from(sealed!.data!);
    data[20] = data[20]! ^ 1;
    await expect(codec.decode([{ ...sealed!, data }])).rejects.toThrow();
  });
});
