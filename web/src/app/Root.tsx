import { lazy, Suspense, useMemo, useState } from 'react';
import { QueryCache, QueryClientProvider } from '@tanstack/react-query';
import type { DashboardConfig } from './config.js';
import { ApiError } from './errors.js';
import { createQueryClient } from './query-client.js';
import { Dashboard } from './Dashboard.js';
import { LocalSignIn } from '../features/auth/LocalSignIn.js';
import { loadLocalSession, saveLocalSession, type Session } from '../features/auth/session.js';
import { Loading } from '../ui/primitives.js';

// Clerk (and Convex with it) load only when configured: the embedded dashboard never downloads them.
const ClerkRoot = lazy(() => import('./ClerkRoot.js'));

/** Picks the sign-in the platform has: Clerk when configured, else the local one, else says what is missing. */
export function Root({ config }: { config: DashboardConfig }) {
  if (config.clerkPublishableKey)
    return (
      <Suspense fallback={<Loading what="sign-in" />}>
        <ClerkRoot config={config} publishableKey={config.clerkPublishableKey} />
      </Suspense>
    );
  if (config.localSignIn) return <LocalRoot />;
  return (
    <main className="mx-auto mt-24 max-w-md rounded-lg border border-red-200 bg-white p-6" role="alert">
      <h1 className="text-lg font-semibold">Sign-in is not configured</h1>
      <p className="mt-2 text-sm">
        The platform verifies Clerk sessions (CLERK_JWT_KEY or CLERK_SECRET_KEY), but the dashboard has no Clerk
        publishable key: set CLERK_PUBLISHABLE_KEY where the platform starts. Local sign-in exists only without Clerk.
      </p>
    </main>
  );
}

function LocalRoot() {
  const [local, setLocal] = useState(loadLocalSession);
  // A local token that the api no longer takes (expired, or the platform's key pair was reset)
  // ends the session: back to sign-in rather than every page showing `unauthorized`.
  const queryClient = useMemo(
    () =>
      createQueryClient({
        queryCache: new QueryCache({
          onError: (err) => {
            if (err instanceof ApiError && err.status === 401) {
              saveLocalSession(null);
              setLocal(null);
            }
          },
        }),
      }),
    [],
  );
  const session = useMemo<Session | null>(
    () =>
      local && {
        userId: local.userId,
        how: 'local',
        getToken: () => Promise.resolve(local.token),
        signOut: () => {
          saveLocalSession(null);
          queryClient.clear();
          setLocal(null);
        },
      },
    [local, queryClient],
  );
  return (
    <QueryClientProvider client={queryClient}>
      {session ? (
        <Dashboard session={session} mode="embedded" />
      ) : (
        <LocalSignIn
          onSignedIn={(s) => {
            saveLocalSession(s);
            queryClient.clear();
            setLocal(s);
          }}
        />
      )}
    </QueryClientProvider>
  );
}
