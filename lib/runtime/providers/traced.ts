import { SpanKind } from '@opentelemetry/api';
import { inSpan, traceHeaders } from '../../tracing.js';
import type { RuntimeProvider } from '../provider.js';

/**
 * A provider whose every call is a span (`runtime.<call>`, with the runtime and the agent,
 * deployment or version it is about), the child of whatever called it: an activity's span in
 * a worker, the invoke's server span in the gateway. An invoke also carries the trace context
 * to the agent (W3C `traceparent`), so an agent that traces continues the gateway's trace.
 * Free when tracing is off: the spans are no-ops.
 */
export function traced(provider: RuntimeProvider): RuntimeProvider {
  const runtime = provider.runtime;
  const span = <T>(call: string, attrs: Record<string, string>, fn: () => Promise<T>, kind = SpanKind.CLIENT) =>
    inSpan(`runtime.${call}`, { 'webhost.runtime': runtime, ...attrs }, fn, kind);
  return {
    runtime,
    deployVersion: (input) =>
      span('deployVersion', { 'webhost.agent_id': input.agentId, 'webhost.deployment_id': input.deploymentId }, () =>
        provider.deployVersion(input),
      ),
    activateVersion: (input) =>
      span('activateVersion', { 'webhost.agent_id': input.agentId, 'webhost.version_ref': input.versionRef }, () =>
        provider.activateVersion(input),
      ),
    removeVersion: (input) =>
      span('removeVersion', { 'webhost.agent_id': input.agentId, 'webhost.version_ref': input.versionRef }, () =>
        provider.removeVersion(input),
      ),
    healthCheck: (input) =>
      span('healthCheck', { 'webhost.version_ref': input.versionRef }, () => provider.healthCheck(input)),
    // The span ends when the agent's answer begins (its status and headers); a stream's body
    // is the gateway's server span's to time.
    invoke: (input) =>
      span('invoke', { 'webhost.deployment_id': input.deploymentId, 'webhost.request_id': input.requestId }, () =>
        provider.invoke({ ...input, traceHeaders: traceHeaders() }),
      ),
    // secret names are not secret; values never reach a span
    setSecret: (input) =>
      span('setSecret', { 'webhost.agent_id': input.agentId, 'webhost.secret_name': input.name }, () =>
        provider.setSecret(input),
      ),
    deleteSecret: (input) =>
      span('deleteSecret', { 'webhost.agent_id': input.agentId, 'webhost.secret_name': input.name }, () =>
        provider.deleteSecret(input),
      ),
    destroyAgent: (input) =>
      span('destroyAgent', { 'webhost.agent_id': input.agentId }, () => provider.destroyAgent(input)),
  };
}
