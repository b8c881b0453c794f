// @vitest-environment happy-dom
import { QueryClientProvider } from '@tanstack/react-query';
import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientsContext, createClients } from '../../app/api.js';
import { createQueryClient } from '../../app/query-client.js';
import BillingPage from './BillingPage.js';

afterEach(cleanup);

const account = {
  userId: 'alice',
  tier: 'starter',
  addOns: [],
  entitlements: { agents: 5, runtimes: ['local', 'cloudflare'], requestsPerPeriod: 100_000, retentionDays: 30 },
  period: { id: '2026-12', requests: 3, limit: 100_000 },
};

function renderWith(billing: Record<string, unknown>) {
  const fetchImpl = (async (input: RequestInfo | URL) => {
    const path = new URL(String(input)).pathname;
    return Response.json(path === '/v1/billing' ? billing : account);
  }) as typeof fetch;
  render(
    <QueryClientProvider client={createQueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <ClientsContext.Provider value={createClients(() => Promise.resolve('t'), 'http://dash.test', fetchImpl)}>
        <BillingPage />
      </ClientsContext.Provider>
    </QueryClientProvider>,
  );
}

describe('billing view', () => {
  it('shows a running grace period, the entitlements, and checkout to the other paid tiers', async () => {
    renderWith({
      tier: 'starter',
      addOns: [],
      subscription: { id: 'sub_1', status: 'past_due', customerId: 'c_1' },
      gracePeriodEndsAt: '2026-12-10T00:00:00.000Z',
      checkoutAvailable: true,
    });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('A payment failed');
    expect(alert.textContent).toContain('moves to free');
    expect(screen.getByText('100,000')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Upgrade to pro' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Upgrade to starter' })).toBeNull();
  });

  it('with billing off, says how tiers are set instead of offering a checkout', async () => {
    renderWith({ tier: 'pro', addOns: [], subscription: null, gracePeriodEndsAt: null, checkoutAvailable: false });
    expect(await screen.findByText(/Billing is off on this platform/)).toBeTruthy();
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.queryByRole('button', { name: /Upgrade/ })).toBeNull();
  });
});
