import * as Dialog from '@radix-ui/react-dialog';
import { useState, type FormEvent } from 'react';
import type { Runtime } from '../../../../lib/contracts/index.js';
import { navigate } from '../../ui/router.js';
import { Button, ErrorNotice, Field } from '../../ui/primitives.js';
import { useAccount, useCreateAgent } from './queries.js';
import { runtimeChoices } from './runtimes.js';

/** Create an agent: a DNS-label name and a runtime; runtimes the tier does not allow are disabled, saying why. */
export function CreateAgentDialog() {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [runtime, setRuntime] = useState<Runtime>('local');
  const account = useAccount();
  const create = useCreateAgent();
  const choices = account.data ? runtimeChoices(account.data.tier, account.data.entitlements.runtimes) : [];
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(
      { name, runtime },
      {
        onSuccess: (agent) => {
          setOpen(false);
          setName('');
          navigate(`/agents/${agent.id}`);
        },
      },
    );
  };
  return (
    <Dialog.Root
      open={open}
      onOpenChange={(o) => {
        setOpen(o);
        if (!o) create.reset();
      }}
    >
      <Dialog.Trigger asChild>
        <Button>Create agent</Button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="fixed inset-0 bg-slate-900/40" />
        <Dialog.Content className="fixed top-1/2 left-1/2 w-[28rem] max-w-[90vw] -translate-x-1/2 -translate-y-1/2 rounded-lg bg-white p-5 shadow-xl">
          <Dialog.Title className="text-lg font-semibold">Create an agent</Dialog.Title>
          <Dialog.Description className="mt-1 text-sm text-slate-600">
            Then deploy its code from a folder or a git repository.
          </Dialog.Description>
          <form onSubmit={submit} className="mt-4 flex flex-col gap-4">
            <Field
              label="Name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              required
              autoFocus
              pattern="[a-z0-9]([a-z0-9-]*[a-z0-9])?"
              maxLength={63}
              hint="Lowercase letters, digits and inner dashes, like a DNS label."
            />
            <fieldset>
              <legend className="text-sm font-medium text-slate-700">Runtime</legend>
              <div className="mt-1 flex flex-col gap-1">
                {choices.map((c) => (
                  <label key={c.id} className={`flex items-start gap-2 text-sm ${c.disabled ? 'text-slate-400' : ''}`}>
                    <input
                      type="radio"
                      name="runtime"
                      value={c.id}
                      checked={runtime === c.id}
                      disabled={c.disabled}
                      onChange={() => setRuntime(c.id)}
                      aria-describedby={c.reason ? `runtime-${c.id}-reason` : undefined}
                    />
                    <span>
                      {c.label}
                      {c.reason ? (
                        <span id={`runtime-${c.id}-reason`} className="block text-xs">
                          Unavailable: {c.reason}
                        </span>
                      ) : null}
                    </span>
                  </label>
                ))}
              </div>
            </fieldset>
            {create.error ? <ErrorNotice error={create.error} /> : null}
            <div className="flex justify-end gap-2">
              <Dialog.Close asChild>
                <Button variant="secondary">Cancel</Button>
              </Dialog.Close>
              <Button type="submit" disabled={create.isPending}>
                {create.isPending ? 'Creating…' : 'Create'}
              </Button>
            </div>
          </form>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
