import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';

/**
 * Temporal's remote codec protocol (what Temporal UI and `temporal --codec-endpoint` send to
 * `<endpoint>/decode`): proto3 JSON, so every bytes field — a payload's data and each metadata
 * value — is base64.
 */
export const CodecBody = z.strictObject({
  payloads: z
    .array(
      z.object({
        metadata: z.record(z.string().max(256), z.base64()).optional(),
        data: z.base64().optional(),
      }),
    )
    .max(1000)
    .default([]),
});
export type CodecBody = z.infer<typeof CodecBody>;

/** What stands in for a secret's value in a decoded payload. */
export const REDACTED = '[redacted]';

/**
 * Decodes payloads for an operator's eyes — and only for them: a secret's value travels to its
 * provider inside the secret workflow's input (workflows/secrets/messages.ts `value`), sealed
 * by the codec, and stays unreadable here too. Every `value` field of a decoded JSON payload,
 * at any depth, answers `[redacted]`; nothing else the platform puts in a workflow is secret.
 */
export async function decodeForOperators(codec: PayloadCodec, body: CodecBody): Promise<CodecBody> {
  const decoded = await codec.decode(body.payloads.map(fromJson));
  return { payloads: decoded.map((p) => toJson(redact(p))) };
}

/** Seals payloads as the platform's clients do (the CLI encodes a query's or a signal's arguments). */
export async function encodeForOperators(codec: PayloadCodec, body: CodecBody): Promise<CodecBody> {
  return { payloads: (await codec.encode(body.payloads.map(fromJson))).map(toJson) };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function fromJson(p: CodecBody['payloads'][number]): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): CodecBody['payloads'][number] {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

function redact(p: Payload): Payload {
  const encoding = p.metadata?.encoding ? dec.decode(p.metadata.encoding) : '';
  if (encoding !== 'json/plain' || !p.data) return p;
  const text = dec.decode(p.data);
  if (!text.includes('"value"')) return p;
  const scrub = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(scrub)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'value' ? REDACTED : scrub(x)]))
        : v;
  return { ...p, data: enc.encode(JSON.stringify(scrub(JSON.parse(text)))) };
}
