import { useMemo } from 'react';
import { ClerkProvider, SignIn, useAuth, useClerk } from '@clerk/clerk-react';
import { ConvexQueryClient } from '@convex-dev/react-query';
import { QueryClientProvider } from '@tanstack/react-query';
import { ConvexReactClient } from 'convex/react';
import { ConvexProviderWithClerk } from 'convex/react-clerk';
import type { DashboardConfig } from './config.js';
import { createQueryClient } from './query-client.js';
import { Dashboard } from './Dashboard.js';
import type { Session } from '../features/auth/session.js';
import { Loading } from '../ui/primitives.js';

/**
 * Clerk sign-in. In Convex mode the same dashboard reads its live views from Convex queries
 * through `@convex-dev/react-query`, authenticated with the Clerk identity
 * (`ConvexProviderWithClerk`); the api gets the same Clerk session token.
 */
export default function ClerkRoot({ config, publishableKey }: { config: DashboardConfig; publishableKey: string }) {
  return (
    <ClerkProvider publishableKey={publishableKey}>
      {config.mode === 'convex' && config.convexUrl ? <ConvexMode url={config.convexUrl} /> : <EmbeddedWithClerk />}
    </ClerkProvider>
  );
}

function EmbeddedWithClerk() {
  const queryClient = useMemo(() => createQueryClient(), []);
  return (
    <QueryClientProvider client={queryClient}>
      <Signed mode="embedded" />
    </QueryClientProvider>
  );
}

function ConvexMode({ url }: { url: string }) {
  const { convex, queryClient } = useMemo(() => {
    const convex = new ConvexReactClient(url);
    const convexQueryClient = new ConvexQueryClient(convex);
    const queryClient = createQueryClient({
      defaultOptions: { queries: { queryKeyHashFn: convexQueryClient.hashFn(), queryFn: convexQueryClient.queryFn() } },
    });
    convexQueryClient.connect(queryClient);
    return { convex, queryClient };
  }, [url]);
  return (
    <ConvexProviderWithClerk client={convex} useAuth={useAuth}>
      <QueryClientProvider client={queryClient}>
        <Signed mode="convex" />
      </QueryClientProvider>
    </ConvexProviderWithClerk>
  );
}

function Signed({ mode }: { mode: 'embedded' | 'convex' }) {
  const { isLoaded, isSignedIn, userId, getToken } = useAuth();
  const clerk = useClerk();
  const session = useMemo<Session | null>(
    () =>
      isSignedIn && userId
        ? { userId, how: 'clerk', getToken: () => getToken(), signOut: () => void clerk.signOut() }
        : null,
    [isSignedIn, userId, getToken, clerk],
  );
  if (!isLoaded) return <Loading what="session" />;
  if (!session)
    return (
      <main className="mx-auto mt-16 flex justify-center">
        <SignIn />
      </main>
    );
  return <Dashboard session={session} mode={mode} />;
}
