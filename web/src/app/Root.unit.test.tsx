// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Root } from './Root.js';

// Which sign-in the dashboard offers, from /config.json: local only without Clerk (and it says
// so); a local session the api refuses goes back to sign-in.

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  window.localStorage.clear();
});

const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '');
const token = (sub: string) =>
  `${b64({ alg: 'RS256' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}.sig`;
const envelope = (status: number, code: string, message: string) =>
  Response.json({ error: { code, message, requestId: 'req_x' } }, { status, headers: { 'x-request-id': 'req_x' } });

describe('sign-in', () => {
  it('local mode: asks for a user id, says it is the local mode without Clerk, and signs in', async () => {
    const calls: string[] = [];
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = new URL(String(input));
      calls.push(`${init?.method ?? 'GET'} ${url.pathname}`);
      if (url.pathname === '/auth/local-token')
        return Response.json({ token: token('alice'), userId: 'alice', mode: 'local' });
      if (url.pathname === '/v1/agents') return Response.json({ items: [], nextCursor: null });
      if (url.pathname === '/v1/usage') return Response.json({ byAgent: [] });
      return new Response(new ReadableStream(), { headers: { 'content-type': 'text/event-stream' } });
    });
    render(<Root config={{ mode: 'embedded', localSignIn: true, clerkPublishableKey: null, convexUrl: null }} />);
    expect(screen.getByRole('note').textContent).toContain('Clerk is not configured');
    fireEvent.change(screen.getByLabelText('User id'), { target: { value: 'alice' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText('No agents yet')).toBeTruthy();
    expect(screen.getByLabelText('Signed in as').textContent).toContain('alice');
    expect(calls).toContain('POST /auth/local-token');
  });

  it('a session the api refuses (401) goes back to sign-in', async () => {
    window.localStorage.setItem('webhost.localSession', JSON.stringify({ userId: 'alice', token: token('alice') }));
    vi.stubGlobal('fetch', async () => envelope(401, 'unauthorized', 'invalid or expired token'));
    render(<Root config={{ mode: 'embedded', localSignIn: true, clerkPublishableKey: null, convexUrl: null }} />);
    expect(await screen.findByLabelText('User id')).toBeTruthy();
    expect(window.localStorage.getItem('webhost.localSession')).toBeNull();
  });

  it('Clerk verifying sessions but no publishable key: says what to set, offers no local sign-in', () => {
    render(<Root config={{ mode: 'embedded', localSignIn: false, clerkPublishableKey: null, convexUrl: null }} />);
    expect(screen.getByRole('alert').textContent).toContain('CLERK_PUBLISHABLE_KEY');
    expect(screen.queryByLabelText('User id')).toBeNull();
  });
});
