import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { sdkLogger } from './sdk-runtime.js';

describe('the Temporal SDK’s log lines', () => {
  it('become JSON lines of the process log, the SDK’s metadata (workflow ids) as fields', () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      }),
    );
    const sdk = sdkLogger(log);
    sdk.warn('Activity failed', { workflowId: 'deploy-dep_1', activityType: 'createVersion', attempt: 2 });
    sdk.log('ERROR', 'compensation failed', { workflowId: 'deploy-dep_2', step: 'activate' });
    sdk.debug('not at this level', { workflowId: 'deploy-dep_3' });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'Activity failed',
        workflowId: 'deploy-dep_1',
        activityType: 'createVersion',
        attempt: 2,
      }),
      expect.objectContaining({ level: 50, msg: 'compensation failed', workflowId: 'deploy-dep_2', step: 'activate' }),
    ]);
  });
});
