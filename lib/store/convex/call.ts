import type { FunctionArgs, FunctionReference, FunctionReturnType } from 'convex/server';
import { ConvexError } from 'convex/values';
import { z } from 'zod';
import { AppError, ErrorCode } from '../../contracts/index.js';
import type { AuditNote } from '../port/audit.js';
import type { ConvexTransport } from './transport.js';

type ServiceArgs<F extends FunctionReference<'query' | 'mutation'>> = Omit<FunctionArgs<F>, 'secret'>;

/** Calls service functions (convex/functions.ts `serviceQuery`/`serviceMutation`) with the service secret. */
export interface ConvexCaller {
  query<F extends FunctionReference<'query'>>(ref: F, args: ServiceArgs<F>): Promise<FunctionReturnType<F>>;
  mutation<F extends FunctionReference<'mutation'>>(ref: F, args: ServiceArgs<F>): Promise<FunctionReturnType<F>>;
  readonly transport: ConvexTransport;
  readonly secret: string;
}

export function convexCaller(transport: ConvexTransport, secret: string): ConvexCaller {
  return {
    transport,
    secret,
    query: (ref, args) => refusalsAsAppErrors(transport.query(ref, { ...args, secret } as FunctionArgs<typeof ref>)),
    mutation: (ref, args) =>
      refusalsAsAppErrors(transport.mutation(ref, { ...args, secret } as FunctionArgs<typeof ref>)),
  };
}

/** What a function refuses with: `ConvexError({ code, message })` (convex/functions.ts `fail`). */
const ErrorData = z.object({ code: ErrorCode, message: z.string() });

/** A function's refusal becomes the `AppError` the SQL adapter would throw; anything else passes unchanged. */
async function refusalsAsAppErrors<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    const data = err instanceof ConvexError ? ErrorData.safeParse(err.data) : undefined;
    if (data?.success) throw new AppError(data.data.code, data.data.message);
    throw err;
  }
}

/** Convex keeps times as epoch milliseconds. */
export const ms = (d: Date) => d.getTime();

/** An audit note as a Convex argument: its details as JSON text (their keys need not be field names). */
export const auditArg = (note: AuditNote | undefined) =>
  note ? { audit: { ...note, details: note.details === undefined ? null : JSON.stringify(note.details) } } : {};
/** JSON text as functions keep it where keys need not be Convex field names. */
export const fromJsonText = (text: string | null): unknown => (text === null ? null : JSON.parse(text));
