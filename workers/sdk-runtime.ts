import { makeTelemetryFilterString, Runtime, type Logger as SdkLogger } from '@temporalio/worker';
import type { Logger } from '../lib/log.js';

/**
 * The Temporal SDK's runtime for this process, installed once before any worker exists:
 *  - its log lines (workflow and activity ones included, each with its workflowId, runId,
 *    workflowType, activityType and attempt) go to the process's JSON log (`log`), the core's
 *    own from WARN up;
 *  - its metrics (task slots, poll and task latencies, workflow and activity completions and
 *    failures) are served in the Prometheus format at `http://<WEBHOST_WORKER_METRICS_ADDRESS>/metrics`
 *    when that variable is set (e.g. `127.0.0.1:9464`), which this returns.
 */
export function installSdkRuntime(log: Logger, env: NodeJS.ProcessEnv = process.env): string | null {
  const bindAddress = env.WEBHOST_WORKER_METRICS_ADDRESS;
  if (bindAddress && !/^[\w.:[\]-]+:\d{1,5}$/.test(bindAddress))
    throw new Error(`WEBHOST_WORKER_METRICS_ADDRESS must be host:port, not "${bindAddress}"`);
  Runtime.install({
    logger: sdkLogger(log),
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN' }) },
      ...(bindAddress
        ? { metrics: { prometheus: { bindAddress, countersTotalSuffix: true, useSecondsForDurations: true } } }
        : {}),
    },
  });
  return bindAddress ? `http://${bindAddress}/metrics` : null;
}

/** The SDK's logger interface over a pino logger: the SDK's metadata become the line's fields. */
export function sdkLogger(log: Logger): SdkLogger {
  const at = (level: 'trace' | 'debug' | 'info' | 'warn' | 'error') => (message: string, meta?: object) =>
    log[level]({ ...meta }, message);
  return {
    log: (level, message, meta) => at(level.toLowerCase() as 'info')(message, meta),
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}
