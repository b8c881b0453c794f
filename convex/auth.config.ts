import type { AuthConfig } from 'convex/server';

// Who may call the dashboard queries: users signed in with Clerk. The dashboard passes
// Clerk's session token from its "convex" JWT template; Convex verifies it against the
// issuer (the Clerk Frontend API URL, a Convex environment variable) and hands the
// functions an identity whose `subject` is the Clerk user id, our owner id.
export default {
  providers: [{ domain: process.env.CLERK_JWT_ISSUER_DOMAIN!, applicationID: 'convex' }],
} satisfies AuthConfig;
