// The shim: a thin module the platform wraps around every agent at build time
// (architecture.md, Runtimes). It runs inside the agent's isolate, in front of the agent's
// own `fetch`, so it holds on every runtime.

/** The header that carries the per-deployment invoke token from the gateway (and health checks). */
export const INVOKE_TOKEN_HEADER = 'x-webhost-invoke-token';
/** The secret binding that gives the shim the token it expects; the agent's own `env` never has it. */
export const INVOKE_TOKEN_BINDING = 'WEBHOST_INVOKE_TOKEN';
/** The module specifier by which the shim imports the agent's entry. */
export const AGENT_MODULE = 'webhost:agent';

/**
 * The shim's source. It:
 * - refuses every call that lacks the deployment's invoke token (401), so a version's own
 *   address is useless to anyone but the gateway;
 * - hands the agent its request without the token header and its `env` without the token;
 * - answers an exception the agent throws with a 500 that carries the message only, never a
 *   stack or a path of the host.
 * The agent's named exports (Durable Object classes) pass through unchanged.
 */
export const SHIM_SOURCE = `
import agent from ${JSON.stringify(AGENT_MODULE)};
export * from ${JSON.stringify(AGENT_MODULE)};

const TOKEN_HEADER = ${JSON.stringify(INVOKE_TOKEN_HEADER)};
const TOKEN_BINDING = ${JSON.stringify(INVOKE_TOKEN_BINDING)};

if (agent === null || typeof agent !== 'object' || typeof agent.fetch !== 'function') {
  throw new Error('the default export must be an object with a fetch(request, env, ctx) method');
}

function sameText(given, expected) {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= given.charCodeAt(i) ^ expected.charCodeAt(i);
  return diff === 0;
}

function refuse(status, code, message) {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

export default {
  async fetch(request, env, ctx) {
    const expected = env[TOKEN_BINDING];
    if (typeof expected !== 'string' || !sameText(request.headers.get(TOKEN_HEADER), expected)) {
      return refuse(401, 'unauthorized', 'this agent is reached through the webhost gateway only');
    }
    const headers = new Headers(request.headers);
    headers.delete(TOKEN_HEADER);
    const { [TOKEN_BINDING]: _token, ...agentEnv } = env;
    try {
      return await agent.fetch(new Request(request, { headers }), agentEnv, ctx);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      console.error('the agent threw:', message);
      return refuse(500, 'agent_error', 'the agent threw: ' + message.slice(0, 1000));
    }
  },
};
`;
