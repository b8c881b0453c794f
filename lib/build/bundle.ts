import { build, type BuildOptions, type Message, type Plugin } from 'esbuild';
import { existsSync, realpathSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, posix, relative, sep } from 'node:path';
import type { PackageJson } from '../contracts/index.js';
import type { WorkerBundle } from '../runtime/provider.js';
import { AGENT_MODULE, SHIM_SOURCE } from '../runtime/shim/index.js';
import { BuildError } from './errors.js';

export { BuildError };

const MAIN_MODULE = 'worker.js';
const SHIM_ENTRY = 'webhost:shim';
/** The export conditions of the Workers runtime (workerd), as wrangler bundles for it. */
export const WORKERD_CONDITIONS = ['workerd', 'worker', 'browser'] as const;

/**
 * Bundles a `files` source, wrapped in the platform's shim (lib/runtime/shim), into one
 * Workers ES module with esbuild, entirely in memory. Sources are self-contained: relative
 * imports resolve among the files; `node:*` and `cloudflare:*` stay external (the runtime
 * provides them); anything else is an error. Exported classes (capitalised, not `default`)
 * become Durable Object classes.
 *
 * It runs esbuild in this process: run it on tenant input only inside `buildContained`.
 */
export async function bundleFiles(source: {
  entry?: string | undefined;
  files: Record<string, string>;
}): Promise<WorkerBundle> {
  const files = source.files;
  const entry = source.entry;
  if (entry === undefined) throw new BuildError('no entry: give "entry"');
  const plugin: Plugin = {
    name: 'webhost-files',
    setup(b) {
      b.onResolve({ filter: /^(node|cloudflare):/ }, (args) => ({ path: args.path, external: true }));
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return { path: SHIM_ENTRY, namespace: 'shim' };
        if (args.path === AGENT_MODULE && args.namespace === 'shim') return { path: entry, namespace: 'files' };
        if (!args.path.startsWith('.')) {
          return {
            errors: [{ text: `cannot import "${args.path}": a files source must contain every module it imports` }],
          };
        }
        const base = posix.normalize(posix.join(posix.dirname(args.importer), args.path));
        const found = [base, `${base}.js`, `${base}.mjs`, `${base}.ts`, `${base}/index.js`, `${base}/index.ts`].find(
          (p) => p in files,
        );
        if (!found) return { errors: [{ text: `cannot find "${args.path}" among the deployment's files` }] };
        return { path: found, namespace: 'files' };
      });
      b.onLoad({ filter: /.*/, namespace: 'shim' }, () => ({ contents: SHIM_SOURCE, loader: 'js' }));
      b.onLoad({ filter: /.*/, namespace: 'files' }, (args) => {
        const contents = files[args.path];
        if (contents === undefined) return { errors: [{ text: `no file "${args.path}"` }] };
        const ext = posix.extname(args.path);
        const loader = ext === '.ts' || ext === '.mts' ? 'ts' : ext === '.json' ? 'json' : 'js';
        return { contents, loader };
      });
    },
  };
  return runBuild({ platform: 'neutral', plugins: [plugin] }, entry);
}

/**
 * Bundles a project folder (its dependencies installed in its node_modules) from `entry`,
 * wrapped in the shim, for workerd: browser platform, workerd export conditions, one ES
 * module. Nothing outside the folder is read: an import that resolves outside it (a symbolic
 * link, an absolute path, `../` past the root) is an error, as is a package that is not
 * installed.
 *
 * It runs esbuild in this process: run it on tenant input only inside `buildContained`.
 */
export async function bundleProject(dir: string, entry: string, pkg: PackageJson | null): Promise<WorkerBundle> {
  const root = realpathSync(dir);
  const entryPath = join(root, entry);
  if (!existsSync(entryPath)) throw new BuildError(`the entry "${entry}" is not in the project`);
  const inside = (p: string) => p === root || p.startsWith(root + sep);
  const plugin: Plugin = {
    name: 'webhost-project',
    setup(b) {
      b.onResolve({ filter: /^(node|cloudflare):/ }, (args) => ({ path: args.path, external: true }));
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === 'entry-point') return { path: SHIM_ENTRY, namespace: 'shim' };
        if (args.path === AGENT_MODULE && args.namespace === 'shim') return { path: entryPath, namespace: 'file' };
        if ((args.pluginData as { inner?: boolean } | undefined)?.inner) return undefined;
        const found = await b.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          with: args.with,
          pluginData: { inner: true },
        });
        const from = args.importer ? relative(root, args.importer) : entry;
        if (found.errors.length > 0) return { errors: [{ text: unresolved(args.path, from, pkg) }] };
        if (found.external || found.namespace !== 'file' || found.path === '') return found;
        let real: string;
        try {
          real = realpathSync(found.path);
        } catch {
          return { errors: [{ text: `cannot read "${args.path}" (imported by ${from})` }] };
        }
        if (!inside(real)) return { errors: [{ text: `"${args.path}" (imported by ${from}) is outside the project` }] };
        return found;
      });
      b.onLoad({ filter: /.*/, namespace: 'shim' }, () => ({ contents: SHIM_SOURCE, loader: 'js', resolveDir: root }));
    },
  };
  return runBuild(
    {
      platform: 'browser',
      absWorkingDir: root,
      define: { 'process.env.NODE_ENV': '"production"' },
      plugins: [plugin],
    },
    entry,
    root,
  );
}

/** What an import that did not resolve means to the project's author. */
function unresolved(spec: string, from: string, pkg: PackageJson | null): string {
  if (spec.startsWith('.') || spec.startsWith('/')) return `cannot find "${spec}" (imported by ${from})`;
  const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
  if (isBuiltin(name)) return `${from} imports the Node built-in "${name}": import it as "node:${name}"`;
  if (pkg?.devDependencies && name in pkg.devDependencies)
    return `package ${name} is a devDependency, which the build does not install (move it to dependencies)`;
  return `package ${name} is not installed (add it to dependencies)`;
}

async function runBuild(options: BuildOptions, entry: string, root?: string): Promise<WorkerBundle> {
  try {
    const result = await build({
      entryPoints: [SHIM_ENTRY],
      bundle: true,
      write: false,
      format: 'esm',
      target: 'es2022',
      conditions: [...WORKERD_CONDITIONS],
      outfile: MAIN_MODULE,
      metafile: true,
      logLevel: 'silent',
      ...options,
    });
    const code = result.outputFiles?.[0]?.text ?? '';
    const exports = Object.values(result.metafile?.outputs ?? {})[0]?.exports ?? [];
    return {
      mainModule: MAIN_MODULE,
      modules: { [MAIN_MODULE]: code },
      durableObjectClasses: exports.filter((e) => e !== 'default' && /^[A-Z]/.test(e)),
    };
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    if (errors?.some((m) => /No matching export in .* for import "default"/.test(m.text))) {
      throw new BuildError(`${entry} has no default export; an agent exports { fetch(request, env, ctx) }`);
    }
    if (errors?.length)
      throw new BuildError(
        errors
          .slice(0, 5)
          .map((m) => formatMessage(m, root))
          .join('\n'),
      );
    throw err;
  }
}

function formatMessage(m: Message, root?: string): string {
  const file = m.location?.file.replace(/^files:/, '') ?? '';
  const at = m.location
    ? `${root && file.startsWith(root) ? relative(root, file) : file}:${m.location.line}:${m.location.column}: `
    : '';
  return `${at}${m.text}`;
}
