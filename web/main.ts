// The dashboard as a process of its own (`tsx web/main.ts`), serving the built app (dist/web)
// and proxying to the api and the gateway. Configuration by environment only: DASHBOARD_PORT,
// HOST, WEBHOST_INTERNAL_API_URL and WEBHOST_INTERNAL_GATEWAY_URL (where this process reaches
// them; the ports on this machine by default), CLERK_PUBLISHABLE_KEY and CONVEX_URL for the
// browser, and Clerk's server keys only to know that sign-in is Clerk's, not the local one.
import { configFromEnv } from '../lib/config.js';
import { dashboardConfigFromEnv, startDashboard } from './server.js';

const config = configFromEnv();
const dashboard = await startDashboard({
  port: config.dashboardPort,
  apiUrl: (process.env.WEBHOST_INTERNAL_API_URL || `http://127.0.0.1:${config.apiPort}`).replace(/\/+$/, ''),
  gatewayUrl: (process.env.WEBHOST_INTERNAL_GATEWAY_URL || `http://127.0.0.1:${config.gatewayPort}`).replace(
    /\/+$/,
    '',
  ),
  // the same test as lib/auth/verify.ts: either Clerk key means Clerk verifies, and the api offers no local sign-in
  config: dashboardConfigFromEnv(
    process.env,
    process.env.CLERK_JWT_KEY || process.env.CLERK_SECRET_KEY ? 'clerk' : 'local',
  ),
});
const stop = () => {
  dashboard.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
console.log(JSON.stringify({ event: 'dashboard_ready', url: dashboard.url }));
