import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useClients } from '../../app/api.js';
import { unwrap } from '../../app/errors.js';
import { qk } from '../../app/query-keys.js';
import { ConfirmDialog } from '../../ui/ConfirmDialog.js';
import { Button, Card, Empty, ErrorNotice, Field, Loading, relativeTime } from '../../ui/primitives.js';

/** Write-only secrets: names and versions are shown; values go in and never come back. */
export function SecretsPanel({ agentId }: { agentId: string }) {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const secrets = useQuery({
    queryKey: qk.secrets(agentId),
    queryFn: () => unwrap(api.v1.agents[':agentId'].secrets.$get({ param: { agentId } })),
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: qk.secrets(agentId) });
  const put = useMutation({
    mutationFn: (s: { name: string; value: string }) =>
      unwrap(
        api.v1.agents[':agentId'].secrets[':name'].$put({ param: { agentId, name: s.name }, json: { value: s.value } }),
      ),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (name: string) =>
      unwrap(api.v1.agents[':agentId'].secrets[':name'].$delete({ param: { agentId, name } })),
    onSettled: refresh,
  });
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [rotating, setRotating] = useState<string | null>(null);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    put.mutate(
      { name: rotating ?? name, value },
      {
        onSuccess: () => {
          setValue('');
          setName('');
          setRotating(null);
        },
      },
    );
  };
  const items = secrets.data?.items ?? [];
  return (
    <Card title="Secrets">
      <form
        onSubmit={submit}
        className="mb-4 grid gap-3 sm:grid-cols-[1fr_1fr_auto] sm:items-end"
        aria-label={rotating ? `Rotate ${rotating}` : 'Set a secret'}
      >
        {rotating ? (
          <p className="text-sm">
            New value for <code className="font-semibold">{rotating}</code>
          </p>
        ) : (
          <Field
            label="Secret name"
            value={name}
            onChange={(e) => setName(e.target.value.toUpperCase())}
            placeholder="OPENAI_API_KEY"
            pattern="[A-Z_][A-Z0-9_]{0,63}"
            required
          />
        )}
        <Field
          label="Secret value"
          type="password"
          autoComplete="off"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          required
        />
        <div className="flex gap-2">
          <Button type="submit" disabled={put.isPending}>
            {put.isPending ? 'Saving…' : rotating ? 'Rotate' : 'Set secret'}
          </Button>
          {rotating ? (
            <Button variant="ghost" onClick={() => setRotating(null)}>
              Cancel
            </Button>
          ) : null}
        </div>
      </form>
      <p className="mb-3 text-xs text-slate-500">
        Values are write-only: the agent reads <code>env.NAME</code> on its next invocation; nobody can read them back
        here.
      </p>
      {put.error ? <ErrorNotice error={put.error} /> : null}
      {remove.error ? <ErrorNotice error={remove.error} /> : null}
      {secrets.isPending ? (
        <Loading what="secrets" />
      ) : secrets.error ? (
        <ErrorNotice error={secrets.error} retry={() => void secrets.refetch()} />
      ) : items.length === 0 ? (
        <Empty title="No secrets">Set one above; the agent sees it as an env binding.</Empty>
      ) : (
        <table className="w-full text-left text-sm">
          <caption className="sr-only">Secrets</caption>
          <thead className="text-xs text-slate-500">
            <tr>
              <th className="py-1">Name</th>
              <th>Version</th>
              <th>Updated</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.name} className="border-t border-slate-100">
                <td className="py-2 font-mono">{s.name}</td>
                <td>v{s.version}</td>
                <td>{relativeTime(s.updatedAt)}</td>
                <td className="text-right">
                  <Button variant="ghost" onClick={() => setRotating(s.name)}>
                    Rotate {s.name}
                  </Button>
                  <ConfirmDialog
                    title={`Delete ${s.name}?`}
                    description="The agent no longer sees it from its next invocation."
                    confirmLabel="Delete"
                    danger
                    onConfirm={() => remove.mutate(s.name)}
                    trigger={<Button variant="ghost">Delete {s.name}</Button>}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}
