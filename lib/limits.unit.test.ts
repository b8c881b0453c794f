import { describe, expect, it } from 'vitest';
import { agentEgressFromEnv } from './config.js';
import { DEFAULT_LIMITS, limitsFromEnv } from './limits.js';

describe('limits', () => {
  it('defaults to Cloudflare’s memory and CPU numbers and the documented rest', () => {
    expect(limitsFromEnv({})).toEqual(DEFAULT_LIMITS);
    expect(DEFAULT_LIMITS.agent).toMatchObject({
      memoryMb: 128,
      cpuMs: 30_000,
      invokeTimeoutMs: 120_000,
      startupMs: 15_000,
    });
  });

  it('takes each limit from its variable, and refuses one that is not a positive whole number', () => {
    expect(limitsFromEnv({ WEBHOST_AGENT_CPU_MS: '2500', WEBHOST_BUILD_CONCURRENCY: '4' })).toMatchObject({
      agent: { cpuMs: 2500 },
      build: { concurrency: 4 },
    });
    for (const bad of ['0', '-1', '1.5', 'lots']) {
      expect(() => limitsFromEnv({ WEBHOST_INVOKE_TIMEOUT_MS: bad })).toThrow(
        /WEBHOST_INVOKE_TIMEOUT_MS must be a positive whole number/,
      );
    }
  });
});

describe('agent egress', () => {
  it('is public addresses only unless widened, and refuses what workerd would not take', () => {
    expect(agentEgressFromEnv({})).toEqual(['public']);
    expect(agentEgressFromEnv({ WEBHOST_AGENT_EGRESS: '10.1.0.0/16, private' })).toEqual([
      'public',
      '10.1.0.0/16',
      'private',
    ]);
    expect(() => agentEgressFromEnv({ WEBHOST_AGENT_EGRESS: 'everything' })).toThrow(/not a workerd allow-list entry/);
  });
});
