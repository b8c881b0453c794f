import { Runtime } from '@temporalio/worker';

/**
 * The Temporal worker's own metrics (the SDK's: task slots, poll and task latencies, workflow
 * and activity completions and failures), served in the Prometheus format at
 * `http://<WEBHOST_WORKER_METRICS_ADDRESS>/metrics` when that variable is set (e.g.
 * `127.0.0.1:9464`). Must run before the process creates any worker.
 */
export function installWorkerMetrics(env: NodeJS.ProcessEnv = process.env): string | null {
  const bindAddress = env.WEBHOST_WORKER_METRICS_ADDRESS;
  if (!bindAddress) return null;
  if (!/^[\w.:[\]-]+:\d{1,5}$/.test(bindAddress))
    throw new Error(`WEBHOST_WORKER_METRICS_ADDRESS must be host:port, not "${bindAddress}"`);
  Runtime.install({
    telemetryOptions: {
      metrics: { prometheus: { bindAddress, countersTotalSuffix: true, useSecondsForDurations: true } },
    },
  });
  return `http://${bindAddress}/metrics`;
}
