import type { DashboardConfig } from '../../server.js';

export type { DashboardConfig };

/** `/config.json` from the dashboard's server (web/server.ts): the mode and how people sign in. */
export async function loadConfig(): Promise<DashboardConfig> {
  const res = await fetch('/config.json');
  if (!res.ok) throw new Error(`/config.json answered ${res.status}`);
  return (await res.json()) as DashboardConfig;
}
