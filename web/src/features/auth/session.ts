import { createContext, useContext } from 'react';

/** Who is signed in, and how to get a token for the api's Authorization header. */
export interface Session {
  userId: string;
  how: 'local' | 'clerk';
  getToken(): Promise<string | null>;
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a session');
  return s;
}

const KEY = 'webhost.localSession';

/** The local session (embedded mode without Clerk): kept in this browser until it expires or is signed out. */
export function loadLocalSession(): { userId: string; token: string } | null {
  try {
    const raw = window.localStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as { userId: string; token: string };
    const payload = JSON.parse(atob(s.token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { exp: number };
    return payload.exp * 1000 > Date.now() + 60_000 ? s : null;
  } catch {
    return null;
  }
}

export const saveLocalSession = (s: { userId: string; token: string } | null) =>
  s ? window.localStorage.setItem(KEY, JSON.stringify(s)) : window.localStorage.removeItem(KEY);
