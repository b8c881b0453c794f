/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import type * as agents from "../agents.js";
import type * as apiKeys from "../apiKeys.js";
import type * as audit from "../audit.js";
import type * as billing from "../billing.js";
import type * as crons from "../crons.js";
import type * as dashboard from "../dashboard.js";
import type * as deployments from "../deployments.js";
import type * as functions from "../functions.js";
import type * as idempotency from "../idempotency.js";
import type * as limits from "../limits.js";
import type * as logs from "../logs.js";
import type * as model from "../model.js";
import type * as secrets from "../secrets.js";
import type * as telemetry from "../telemetry.js";
import type * as users from "../users.js";
import type * as watch from "../watch.js";
import type * as webhooks from "../webhooks.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  agents: typeof agents;
  apiKeys: typeof apiKeys;
  audit: typeof audit;
  billing: typeof billing;
  crons: typeof crons;
  dashboard: typeof dashboard;
  deployments: typeof deployments;
  functions: typeof functions;
  idempotency: typeof idempotency;
  limits: typeof limits;
  logs: typeof logs;
  model: typeof model;
  secrets: typeof secrets;
  telemetry: typeof telemetry;
  users: typeof users;
  watch: typeof watch;
  webhooks: typeof webhooks;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;
