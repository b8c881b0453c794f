import { useMutation, useQuery } from '@tanstack/react-query';
import { useClients } from '../../app/api.js';
import { unwrap } from '../../app/errors.js';
import { qk } from '../../app/query-keys.js';
import { useAccount } from '../agents/queries.js';
import { Button, Card, ErrorNotice, formatNumber, formatTime, Loading } from '../../ui/primitives.js';

const PAID = ['starter', 'pro', 'enterprise'] as const;

/** Tier, entitlements, the subscription, a running grace period, and checkout to upgrade. */
export default function BillingPage() {
  const { api } = useClients();
  const billing = useQuery({ queryKey: qk.billing(), queryFn: () => unwrap(api.v1.billing.$get()) });
  const account = useAccount();
  const checkout = useMutation({
    mutationFn: (tier: (typeof PAID)[number]) => unwrap(api.v1.billing.checkout.$post({ json: { tier } })),
    onSuccess: ({ url }) => window.location.assign(url),
  });
  if (billing.isPending || account.isPending) return <Loading what="billing" />;
  if (billing.error) return <ErrorNotice error={billing.error} retry={() => void billing.refetch()} />;
  if (account.error) return <ErrorNotice error={account.error} retry={() => void account.refetch()} />;
  const b = billing.data;
  const e = account.data.entitlements;
  return (
    <div className="flex flex-col gap-4">
      <h1 className="text-2xl font-semibold">Billing</h1>
      {b.gracePeriodEndsAt ? (
        <div role="alert" className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900">
          <p className="font-medium">A payment failed.</p>
          <p>
            Your {b.tier} tier stays until {formatTime(b.gracePeriodEndsAt)}; unless the payment goes through by then,
            the account moves to free and agents beyond its limit are paused (never deleted).
          </p>
        </div>
      ) : null}
      <Card title="Plan">
        <dl className="grid gap-3 sm:grid-cols-3">
          <div>
            <dt className="text-xs text-slate-500">Tier</dt>
            <dd className="text-lg font-semibold capitalize" aria-label="Tier">
              {b.tier}
            </dd>
          </div>
          <div>
            <dt className="text-xs text-slate-500">Subscription</dt>
            <dd>{b.subscription ? `${b.subscription.status ?? 'unknown'} (${b.subscription.id})` : 'none'}</dd>
          </div>
          <div>
            <dt className="text-xs text-slate-500">Add-ons</dt>
            <dd>{b.addOns.length ? b.addOns.join(', ') : 'none'}</dd>
          </div>
        </dl>
      </Card>
      <Card title="Entitlements">
        <dl className="grid gap-3 sm:grid-cols-4">
          <div>
            <dt className="text-xs text-slate-500">Agents</dt>
            <dd>{e.agents === null ? 'unlimited' : formatNumber(e.agents)}</dd>
          </div>
          <div>
            <dt className="text-xs text-slate-500">Runtimes</dt>
            <dd>{e.runtimes.join(', ')}</dd>
          </div>
          <div>
            <dt className="text-xs text-slate-500">Requests per period</dt>
            <dd>{e.requestsPerPeriod === null ? 'by contract' : formatNumber(e.requestsPerPeriod)}</dd>
          </div>
          <div>
            <dt className="text-xs text-slate-500">Telemetry kept</dt>
            <dd>{e.retentionDays} days</dd>
          </div>
        </dl>
      </Card>
      <Card title="Upgrade">
        {b.checkoutAvailable ? (
          <div className="flex gap-2">
            {PAID.filter((t) => t !== b.tier).map((t) => (
              <Button key={t} onClick={() => checkout.mutate(t)} disabled={checkout.isPending}>
                Upgrade to {t}
              </Button>
            ))}
          </div>
        ) : (
          <p className="text-sm text-slate-600">
            Billing is off on this platform (no Lemon Squeezy API key): an operator sets tiers with{' '}
            <code>npm run admin -- set-tier</code>.
          </p>
        )}
        {checkout.error ? <ErrorNotice error={checkout.error} /> : null}
      </Card>
    </div>
  );
}
