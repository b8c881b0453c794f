import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';

/** The metadata encoding that marks a payload this codec encrypted. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The Temporal payload codec (architecture.md, Secrets): every payload the client and the
 * workers send to Temporal — workflow inputs and results, activity arguments and results,
 * query answers, failure details — is sealed with AES-256-GCM before it leaves the process,
 * so a secret's value that travels to its provider inside a workflow is ciphertext in the
 * history Temporal stores and in Temporal UI. The key is derived from the platform's master
 * key (`WEBHOST_ENCRYPTION_KEY` or the local key under `.data/`); its id travels with each
 * payload so a later key can be added beside it.
 *
 * A payload that this codec did not seal (histories recorded before it existed) decodes as it is.
 */
export class EncryptionCodec implements PayloadCodec {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the payload codec key must be 32 bytes');
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.key, iv);
      const sealed = Buffer.concat([cipher.update(serialize(p)), cipher.final()]);
      return {
        metadata: { encoding: enc.encode(ENCRYPTED_ENCODING), 'encryption-key-id': enc.encode(this.keyId) },
        data: Buffer.concat([iv, sealed, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const encoding = p.metadata?.encoding;
      if (!encoding || dec.decode(encoding) !== ENCRYPTED_ENCODING) return p;
      const keyId = p.metadata?.['encryption-key-id'];
      if (!keyId || dec.decode(keyId) !== this.keyId) {
        throw new Error('a Temporal payload is sealed with another key than this process has');
      }
      const data = Buffer.from(p.data ?? new Uint8Array());
      const decipher = createDecipheriv('aes-256-gcm', this.key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return deserialize(plain);
    });
  }
}

/** The data converter every Temporal client and worker of the platform uses. */
export const encryptedDataConverter = (key: Buffer) => ({ payloadCodecs: [new EncryptionCodec(key)] });

// A payload as bytes: its metadata and data, base64 inside JSON (small, and no protobuf
// dependency of our own).
function serialize(p: Payload): Buffer {
  const metadata = Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
  );
  return Buffer.from(JSON.stringify({ metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') }));
}

function deserialize(bytes: Buffer): Payload {
  const parsed = JSON.parse(bytes.toString('utf8')) as { metadata: Record<string, string>; data: string };
  return {
    metadata: Object.fromEntries(Object.entries(parsed.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(parsed.data, 'base64'),
  };
}
