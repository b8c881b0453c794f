import { AppError, type Runtime } from '../contracts/index.js';

/** What an operator sets to make each runtime available (README, "Runtimes"). */
const HOW_TO_CONFIGURE: Record<Runtime, string> = {
  local: 'the local runtime is always available',
  cloudflare:
    'set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID (optionally CLOUDFLARE_BASE_URL for another API endpoint ' +
    'and CLOUDFLARE_WORKERS_URL for where Workers answer)',
  agentcore:
    'set AWS_REGION, WEBHOST_AGENTCORE_ROLE_ARN and WEBHOST_AGENTCORE_CODE_BUCKET, with AWS credentials from the ' +
    'standard chain (optionally AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL, AWS_ENDPOINT_URL_BEDROCK_AGENTCORE and ' +
    'AWS_ENDPOINT_URL_S3 for other endpoints)',
};

/**
 * Refuses, with `runtime_unavailable` and what to configure, a runtime this platform has no
 * provider for: at create, at a runtime change and at deploy, before anything is recorded.
 */
export function requireRuntime(runtime: Runtime, available: readonly Runtime[]): void {
  if (available.includes(runtime)) return;
  throw new AppError(
    'runtime_unavailable',
    `the ${runtime} runtime is not configured on this platform: ${HOW_TO_CONFIGURE[runtime]}; the local runtime works without configuration`,
  );
}
