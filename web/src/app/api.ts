import { createContext, useContext } from 'react';
import { hc } from 'hono/client';
import type { ApiApp } from '../../../api/app.js';
import type { GatewayApp } from '../../../gateway/app.js';

/**
 * The api and the gateway through `hc`, typed by their routes: every request and answer shape
 * comes from api/routes and gateway/routes. Both are on the dashboard's origin (its server
 * proxies `/v1`, `/auth` and `/gateway/v1`), so there is no CORS and no other origin.
 */
export function createClients(
  getToken: () => Promise<string | null>,
  origin = window.location.origin,
  /** Tests hand in their own fetch; the app uses the browser's. */
  fetchImpl?: typeof fetch,
) {
  const headers = async (): Promise<Record<string, string>> => {
    const token = await getToken();
    return token ? { authorization: `Bearer ${token}` } : {};
  };
  return {
    api: hc<ApiApp>(origin, { headers, ...(fetchImpl ? { fetch: fetchImpl } : {}) }),
    gateway: hc<GatewayApp>(`${origin}/gateway`, { headers, ...(fetchImpl ? { fetch: fetchImpl } : {}) }),
  };
}

export type Clients = ReturnType<typeof createClients>;

/** Sign-in needs no token; its client is the same typed one. */
export const publicApi = (origin = window.location.origin) => hc<ApiApp>(origin);

export const ClientsContext = createContext<Clients | null>(null);

export function useClients(): Clients {
  const clients = useContext(ClientsContext);
  if (!clients) throw new Error('useClients outside a signed-in session');
  return clients;
}
