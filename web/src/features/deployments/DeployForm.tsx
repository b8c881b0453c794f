import { useState, type FormEvent } from 'react';
import * as Tabs from '@radix-ui/react-tabs';
import { Button, Card, ErrorNotice, Field } from '../../ui/primitives.js';
import { useDeploy } from './queries.js';
import { defaultEntry, filesOfFolder } from './upload.js';

const tab =
  'rounded-md px-3 py-1 text-sm data-[state=active]:bg-indigo-600 data-[state=active]:text-white data-[state=inactive]:text-slate-700 hover:bg-slate-100 data-[state=active]:hover:bg-indigo-600';

/** Deploy from a folder (uploaded as a files source) or from a git URL and ref. */
export function DeployForm({ agentId }: { agentId: string }) {
  const deploy = useDeploy(agentId);
  const [files, setFiles] = useState<Record<string, string> | null>(null);
  const [entry, setEntry] = useState('');
  const [url, setUrl] = useState('');
  const [ref, setRef] = useState('main');
  const [path, setPath] = useState('');

  const deployFiles = (e: FormEvent) => {
    e.preventDefault();
    if (!files) return;
    const chosen = entry || defaultEntry(files);
    deploy.mutate({ type: 'files', files, ...(chosen ? { entry: chosen } : {}) });
  };
  const deployGit = (e: FormEvent) => {
    e.preventDefault();
    deploy.mutate({ type: 'git', url, ref, ...(path ? { path } : {}), ...(entry ? { entry } : {}) });
  };

  return (
    <Card title="Deploy">
      <Tabs.Root defaultValue="folder">
        <Tabs.List aria-label="Deploy from" className="mb-3 flex gap-1">
          <Tabs.Trigger value="folder" className={tab}>
            Folder
          </Tabs.Trigger>
          <Tabs.Trigger value="git" className={tab}>
            Git
          </Tabs.Trigger>
        </Tabs.List>
        <Tabs.Content value="folder">
          <form onSubmit={deployFiles} className="flex flex-col gap-3">
            <div className="flex flex-col gap-1">
              <label htmlFor="deploy-folder" className="text-sm font-medium text-slate-700">
                Project folder
              </label>
              <input
                id="deploy-folder"
                type="file"
                multiple
                // a folder picker: every file under it, with its path
                {...{ webkitdirectory: '', directory: '' }}
                onChange={(e) => {
                  const picked = e.currentTarget.files;
                  if (picked) void filesOfFolder(Array.from(picked)).then(setFiles);
                }}
                className="text-sm"
              />
              <p className="text-xs text-slate-500">
                {files
                  ? `${Object.keys(files).length} files: ${Object.keys(files).slice(0, 6).join(', ')}${Object.keys(files).length > 6 ? ', …' : ''}`
                  : 'node_modules, .git and dist are left out; dependencies install from the lockfile at build.'}
              </p>
            </div>
            <Field
              label="Entry (optional)"
              value={entry}
              onChange={(e) => setEntry(e.target.value)}
              placeholder="index.js"
              hint="Without it: main from wrangler.toml, else module or main from package.json, else index.js."
            />
            <div>
              <Button type="submit" disabled={!files || deploy.isPending}>
                {deploy.isPending ? 'Deploying…' : 'Deploy folder'}
              </Button>
            </div>
          </form>
        </Tabs.Content>
        <Tabs.Content value="git">
          <form onSubmit={deployGit} className="grid gap-3 sm:grid-cols-2">
            <Field
              label="Git URL"
              value={url}
              onChange={(e) => setUrl(e.target.value)}
              placeholder="https://github.com/you/agent.git"
              required
            />
            <Field
              label="Ref"
              value={ref}
              onChange={(e) => setRef(e.target.value)}
              hint="A branch, tag or commit sha"
              required
            />
            <Field label="Folder in the repository (optional)" value={path} onChange={(e) => setPath(e.target.value)} />
            <Field label="Entry (optional)" value={entry} onChange={(e) => setEntry(e.target.value)} />
            <div>
              <Button type="submit" disabled={!url || !ref || deploy.isPending}>
                {deploy.isPending ? 'Deploying…' : 'Deploy from git'}
              </Button>
            </div>
          </form>
        </Tabs.Content>
      </Tabs.Root>
      {deploy.error ? (
        <div className="mt-3">
          <ErrorNotice error={deploy.error} />
        </div>
      ) : null}
      {deploy.data ? (
        <p role="status" className="mt-3 text-sm text-slate-700">
          Deployment v{deploy.data.version} started ({deploy.data.deploymentId}); its steps appear below as they happen.
        </p>
      ) : null}
    </Card>
  );
}
