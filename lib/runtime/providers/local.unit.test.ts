import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../../config.js';
import { onControlHost } from './local.js';

describe('local provider: where an agent is reached', () => {
  it('on the same machine, the URL the runtime gave', () => {
    expect(onControlHost('http://127.0.0.1:40123/', 'http://127.0.0.1:8790')).toBe('http://127.0.0.1:40123/');
  });

  it('from another container, the workerd port on the control URL’s host', () => {
    expect(onControlHost('http://127.0.0.1:40123/', 'http://runtime-local:8790')).toBe('http://runtime-local:40123/');
    expect(onControlHost('http://127.0.0.1:40123', 'http://10.0.0.7:8790/')).toBe('http://10.0.0.7:40123/');
  });
});

describe('local runtime host (LOCAL_RUNTIME_HOST)', () => {
  it('is loopback unless set', () => {
    expect(configFromEnv({}).runtimeHost).toBe('127.0.0.1');
    expect(configFromEnv({ LOCAL_RUNTIME_HOST: '' }).runtimeHost).toBe('127.0.0.1');
    expect(configFromEnv({ LOCAL_RUNTIME_HOST: '0.0.0.0' }).runtimeHost).toBe('0.0.0.0');
  });
});
