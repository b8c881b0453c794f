import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useClients } from '../../app/api.js';
import { unwrap } from '../../app/errors.js';
import { qk } from '../../app/query-keys.js';
import { ConfirmDialog } from '../../ui/ConfirmDialog.js';
import { Button, Card, Empty, ErrorNotice, Field, formatTime, Loading } from '../../ui/primitives.js';

/** API keys bound to this agent: a new key is shown once, then only its prefix. */
export function ApiKeysPanel({ agentId }: { agentId: string }) {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: qk.apiKeys(), queryFn: () => unwrap(api.v1['api-keys'].$get()) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: qk.apiKeys() });
  const create = useMutation({
    mutationFn: (name: string) => unwrap(api.v1['api-keys'].$post({ json: { name, agentId } })),
    onSettled: refresh,
  });
  const revoke = useMutation({
    mutationFn: (keyId: string) => unwrap(api.v1['api-keys'][':keyId'].$delete({ param: { keyId } })),
    onSettled: refresh,
  });
  const [name, setName] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(name, { onSuccess: () => setName('') });
  };
  const mine = (keys.data?.items ?? []).filter((k) => k.agentId === agentId && !k.revokedAt);
  return (
    <Card title="API keys">
      <form onSubmit={submit} className="mb-3 flex items-end gap-2" aria-label="Create an API key">
        <Field
          label="Key name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="production"
          required
        />
        <Button type="submit" disabled={create.isPending}>
          Create key
        </Button>
      </form>
      {create.data ? (
        <div role="status" className="mb-3 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm">
          <p className="font-medium">Copy this key now: it is shown this once.</p>
          <code aria-label="New API key" className="break-all">
            {create.data.key}
          </code>
        </div>
      ) : null}
      {create.error ? <ErrorNotice error={create.error} /> : null}
      {revoke.error ? <ErrorNotice error={revoke.error} /> : null}
      {keys.isPending ? (
        <Loading what="API keys" />
      ) : keys.error ? (
        <ErrorNotice error={keys.error} retry={() => void keys.refetch()} />
      ) : mine.length === 0 ? (
        <Empty title="No API keys for this agent">
          A key invokes this agent at the gateway as you (Bearer whk_… or x-api-key).
        </Empty>
      ) : (
        <ul aria-label="API keys" className="divide-y divide-slate-100 text-sm">
          {mine.map((k) => (
            <li key={k.id} className="flex items-center gap-3 py-2">
              <span className="font-medium">{k.name}</span>
              <code className="text-slate-500">{k.prefix}…</code>
              <span className="text-xs text-slate-500">created {formatTime(k.createdAt)}</span>
              <span className="grow" />
              <ConfirmDialog
                title={`Revoke ${k.name}?`}
                description="Calls with this key fail from the next request on."
                confirmLabel="Revoke"
                danger
                onConfirm={() => revoke.mutate(k.id)}
                trigger={<Button variant="ghost">Revoke {k.name}</Button>}
              />
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
