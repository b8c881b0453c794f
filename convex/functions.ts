import { ConvexError, v } from 'convex/values';
import { customCtx, customMutation, customQuery } from 'convex-helpers/server/customFunctions';
import {
  internalMutation as rawInternalMutation,
  mutation as rawMutation,
  query as rawQuery,
} from './_generated/server.js';

// The only file that imports Convex's raw function builders. Every public function is one of
// the wrappers below, so none can forget to check who is calling.

/** The codes a caller of the store sees (they map one to one onto `AppError` codes). */
export type StoreErrorCode = 'not_found' | 'conflict' | 'validation_failed' | 'entitlement_required';
export type StoreErrorData = { code: StoreErrorCode; message: string };

export function fail(code: StoreErrorCode, message: string): never {
  throw new ConvexError<StoreErrorData>({ code, message });
}

/**
 * Refuses a service call whose `secret` is not the deployment's `WEBHOST_SERVICE_SECRET`,
 * and every service call while that variable is unset. A plain `Error`, not a
 * `ConvexError`: it is a misconfiguration, which callers must see as an internal error.
 */
function checkServiceSecret(secret: string): void {
  const expected = process.env.WEBHOST_SERVICE_SECRET;
  if (!expected || !equalInConstantTime(secret, expected))
    throw new Error('service secret does not match WEBHOST_SERVICE_SECRET');
}

/** Compares without stopping at the first difference, so timing does not leak the secret. */
function equalInConstantTime(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}

const serviceCaller = {
  args: { secret: v.string() },
  input: (_ctx: unknown, { secret }: { secret: string }) => {
    checkServiceSecret(secret);
    return { ctx: {}, args: {} };
  },
};

/** Server to server (api, gateway, workers through `ConvexStore`): takes and checks `secret`. */
export const serviceQuery = customQuery(rawQuery, serviceCaller);
export const serviceMutation = customMutation(rawMutation, serviceCaller);

/**
 * The dashboard's live queries: the caller is the signed-in Clerk user, whose `subject` is
 * the owner id. Without an identity they throw; they never answer an empty result instead.
 */
export const ownerQuery = customQuery(
  rawQuery,
  customCtx(async (ctx) => {
    const identity = await ctx.auth.getUserIdentity();
    if (identity === null) throw new ConvexError({ code: 'unauthorized', message: 'sign in to see this' });
    return { ownerId: identity.subject };
  }),
);

/** Reachable only from other Convex functions and crons, never from a client: no caller to check. */
export const internalMutation = rawInternalMutation;
