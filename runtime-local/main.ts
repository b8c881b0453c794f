// The local runtime as its own process: agents keep running while the platform restarts.
import { agentEgressFromEnv, configFromEnv } from '../lib/config.js';
import { limitsFromEnv } from '../lib/limits.js';
import { startLocalRuntime } from './server.js';

const config = configFromEnv();
const runtime = await startLocalRuntime({
  dataDir: config.dataDir,
  port: config.runtimePort,
  host: config.runtimeHost,
  drainMs: Number(process.env.LOCAL_RUNTIME_DRAIN_MS ?? 30_000),
  limits: limitsFromEnv().agent,
  egress: agentEgressFromEnv(process.env),
  // shims post telemetry through a service binding to the api (WEBHOST_INTERNAL_API_URL when
  // the api is elsewhere, else the api on this machine)
  telemetryUrl: `${(process.env.WEBHOST_INTERNAL_API_URL || `http://127.0.0.1:${config.apiPort}`).replace(/\/+$/, '')}/v1/telemetry`,
  log: (msg) => console.log(`[local-runtime] ${msg}`),
});
console.log(`[local-runtime] control API on ${runtime.url}`);

const shutdown = () => {
  runtime.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
