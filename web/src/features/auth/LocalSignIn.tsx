import { useState, type FormEvent } from 'react';
import { useMutation } from '@tanstack/react-query';
import { publicApi } from '../../app/api.js';
import { unwrap } from '../../app/errors.js';
import { Button, ErrorNotice, Field } from '../../ui/primitives.js';

/**
 * The local sign-in: a user id for a local token (`POST /auth/local-token`). It exists only
 * when the platform runs without Clerk, and says so: anyone who reaches this dashboard can be
 * anyone, which is right on one's own machine and nowhere else.
 */
export function LocalSignIn({ onSignedIn }: { onSignedIn: (s: { userId: string; token: string }) => void }) {
  const [userId, setUserId] = useState('');
  const signIn = useMutation({
    mutationFn: (id: string) => unwrap(publicApi().auth['local-token'].$post({ json: { userId: id } })),
    onSuccess: ({ token, userId: id }) => onSignedIn({ userId: id, token }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signIn.mutate(userId);
  };
  return (
    <main className="mx-auto mt-24 max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <h1 className="text-xl font-semibold">Sign in to webhost.systems</h1>
      <p className="mt-2 rounded-md bg-amber-50 p-2 text-sm text-amber-900" role="note">
        Local mode: Clerk is not configured on this platform, so you sign in with any user id and get a local token.
        This sign-in exists only without Clerk.
      </p>
      <form onSubmit={submit} className="mt-4 flex flex-col gap-3">
        <Field
          label="User id"
          value={userId}
          onChange={(e) => setUserId(e.target.value)}
          required
          autoFocus
          pattern="[A-Za-z0-9_\-]{1,64}"
          placeholder="alice"
          hint="Letters, digits, dashes and underscores."
        />
        <Button type="submit" disabled={signIn.isPending}>
          {signIn.isPending ? 'Signing in…' : 'Sign in'}
        </Button>
        {signIn.error ? <ErrorNotice error={signIn.error} /> : null}
      </form>
    </main>
  );
}
