import { build, type Message, type Plugin } from 'esbuild';
import { posix } from 'node:path';
import type { FilesSource } from '../contracts/index.js';
import type { WorkerBundle } from '../runtime/provider.js';
import { AGENT_MODULE, SHIM_SOURCE } from '../runtime/shim/index.js';

/** A user's source could not be built; the message is safe to show its owner. */
export class BuildError extends Error {
  override readonly name = 'BuildError';
}

const MAIN_MODULE = 'worker.js';
const SHIM_ENTRY = 'webhost:shim';

/**
 * Bundles a `files` source, wrapped in the platform's shim (lib/runtime/shim), into one
 * Workers ES module with esbuild, entirely in memory. Sources are self-contained: relative
 * imports resolve among the files; `node:*` and `cloudflare:*` stay external (the runtime
 * provides them); anything else is an error. Exported classes (capitalised, not `default`)
 * become Durable Object classes.
 *
 * It runs esbuild in this process: run it on tenant input only inside `buildContained`.
 */
export async function bundleFiles(source: FilesSource): Promise<WorkerBundle> {
  const files = source.files;
  const plugin: Plugin = {
    name: 'webhost-files',
    setup(b) {
      b.onResolve({ filter: /^(node|cloudflare):/ }, (args) => ({ path: args.path, external: true }));
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return { path: SHIM_ENTRY, namespace: 'shim' };
        if (args.path === AGENT_MODULE && args.namespace === 'shim') return { path: source.entry, namespace: 'files' };
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
  try {
    const result = await build({
      entryPoints: [SHIM_ENTRY],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      conditions: ['workerd', 'worker', 'browser'],
      outfile: MAIN_MODULE,
      metafile: true,
      logLevel: 'silent',
      plugins: [plugin],
    });
    const code = result.outputFiles[0]?.text ?? '';
    const exports = Object.values(result.metafile.outputs)[0]?.exports ?? [];
    return {
      mainModule: MAIN_MODULE,
      modules: { [MAIN_MODULE]: code },
      durableObjectClasses: exports.filter((e) => e !== 'default' && /^[A-Z]/.test(e)),
    };
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    if (errors?.some((m) => /No matching export in .* for import "default"/.test(m.text))) {
      throw new BuildError(`${source.entry} has no default export; an agent exports { fetch(request, env, ctx) }`);
    }
    if (errors?.length) throw new BuildError(errors.slice(0, 5).map(formatMessage).join('\n'));
    throw err;
  }
}

function formatMessage(m: Message): string {
  const at = m.location ? `${m.location.file.replace(/^files:/, '')}:${m.location.line}:${m.location.column}: ` : '';
  return `${at}${m.text}`;
}
