import { useSyncExternalStore } from 'react';

// A few pages need no router library: paths in the History API, one event to re-render.

const listeners = new Set<() => void>();
const subscribe = (l: () => void) => {
  listeners.add(l);
  window.addEventListener('popstate', l);
  return () => {
    listeners.delete(l);
    window.removeEventListener('popstate', l);
  };
};

export function navigate(to: string): void {
  window.history.pushState(null, '', to);
  for (const l of listeners) l();
}

export function useLocation(): { path: string; search: URLSearchParams } {
  const href = useSyncExternalStore(subscribe, () => window.location.pathname + window.location.search);
  const url = new URL(href, 'http://x');
  return { path: url.pathname, search: url.searchParams };
}

export type Route =
  | { page: 'agents' }
  | { page: 'agent'; agentId: string; tab: string }
  | { page: 'usage' }
  | { page: 'billing' }
  | { page: 'audit' }
  | { page: 'not-found' };

export function matchRoute(path: string, search: URLSearchParams): Route {
  if (path === '/' || path === '/agents') return { page: 'agents' };
  const agent = /^\/agents\/([A-Za-z0-9_-]+)$/.exec(path);
  if (agent) return { page: 'agent', agentId: agent[1]!, tab: search.get('tab') ?? 'deployments' };
  if (path === '/usage') return { page: 'usage' };
  if (path === '/billing') return { page: 'billing' };
  if (path === '/audit') return { page: 'audit' };
  return { page: 'not-found' };
}
