import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BuildConfig } from '../config.js';
import {
  detectFramework,
  parsePackageJson,
  projectEntry,
  type DeploymentSource,
  type Framework,
  type PackageJson,
} from '../contracts/index.js';
import type { WorkerBundle } from '../runtime/provider.js';
import { bundleFiles, bundleProject, WORKERD_CONDITIONS } from './bundle.js';
import { installDependencies, treeBytes, type InstallOutcome } from './deps.js';
import { BuildError } from './errors.js';
import { cloneGit, projectFolder } from './git.js';

/** Manifests that make a `files` source a project (built on disk, its dependencies installed). */
const MANIFESTS = ['package.json', 'wrangler.toml', 'wrangler.json', 'wrangler.jsonc', 'requirements.txt'];

export interface ProjectBuildInput {
  source: DeploymentSource;
  /** When the build must be done by (epoch ms): the install and the fetch get what is left. */
  deadline: number;
  bundleMaxBytes: number;
  diskMaxBytes: number;
  config: BuildConfig;
  /** The command that runs npm (`resolveNpm`). */
  npm: readonly string[];
}

export interface ProjectBuildResult {
  bundle: WorkerBundle;
  framework: Framework;
  commitSha: string | null;
  /** Whether dependencies were installed by npm, linked from the cache, or not needed. */
  dependencies: InstallOutcome['installed'];
}

/** A size in words: bytes below a megabyte, MB above. */
export function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MB` : `${bytes} bytes`;
}

/**
 * Builds a deployment's source into one Workers bundle: a self-contained `files` source in
 * memory; a project (a `files` source with a manifest, or a `git` source) in a scratch folder:
 * fetched, its framework detected, its dependencies installed, bundled for workerd. Every way
 * it fails that is the source's doing is a `BuildError` saying which.
 *
 * It runs npm, git and esbuild on tenant input: call it only inside `buildContained`.
 */
export async function buildProject(input: ProjectBuildInput): Promise<ProjectBuildResult> {
  const { source } = input;
  if (source.type === 'image')
    throw new BuildError(
      'image sources deploy only to the agentcore runtime, and this platform does not deploy images yet',
    );
  if (source.type === 'files' && source.entry !== undefined && !MANIFESTS.some((m) => m in source.files)) {
    const bundle = await bundleFiles(source);
    return {
      bundle: checkSize(bundle, input.bundleMaxBytes),
      framework: 'plain',
      commitSha: null,
      dependencies: 'none',
    };
  }

  mkdirSync(input.config.workDir, { recursive: true });
  const scratch = mkdtempSync(join(input.config.workDir, 'b-'));
  try {
    const checkout = join(scratch, 'src');
    let dir = checkout;
    let commitSha: string | null = null;
    if (source.type === 'files') {
      for (const [path, text] of Object.entries(source.files)) {
        const to = join(checkout, path);
        mkdirSync(dirname(to), { recursive: true });
        writeFileSync(to, text);
      }
    } else {
      ({ commitSha } = await cloneGit({
        url: source.url,
        ref: source.ref,
        into: checkout,
        timeoutMs: remaining(input.deadline),
        localRoots: input.config.gitLocalRoots,
      }));
      rmSync(join(checkout, '.git'), { recursive: true, force: true });
      const bytes = treeBytes(checkout);
      if (bytes > input.diskMaxBytes)
        throw new BuildError(
          `the repository checkout is ${sizeText(bytes)}, over the ${sizeText(input.diskMaxBytes)} build disk limit`,
        );
      dir = projectFolder(checkout, source.path);
      if (!existsSync(dir) || !statSync(dir).isDirectory())
        throw new BuildError(`path "${source.path}" is not a folder of the repository at ${source.ref}`);
    }

    const read = (path: string): string | undefined => {
      const p = join(dir, path);
      return existsSync(p) && statSync(p).isFile() ? readFileSync(p, 'utf8') : undefined;
    };
    let pkg: PackageJson | null = null;
    const pkgText = read('package.json');
    if (pkgText !== undefined) {
      const parsed = parsePackageJson(pkgText);
      if (!parsed.ok) throw new BuildError(parsed.message);
      pkg = parsed.pkg;
    }
    const framework = detectFramework(pkg, read('requirements.txt') !== undefined);
    if (framework === 'python')
      throw new BuildError(
        'a Python project (requirements.txt) runs only on the agentcore runtime, from an image source ({ type: "image", uri })',
      );
    const found = projectEntry(read, source.entry);
    if (!found.ok) throw new BuildError(found.message);
    if (read(found.entry) === undefined)
      throw new BuildError(
        found.from === 'entry'
          ? `entry "${found.entry}" is not in the project`
          : `the entry ${found.from} names, "${found.entry}", is not in the project (the platform runs no build scripts: name the source file)`,
      );

    let dependencies: InstallOutcome['installed'] = 'none';
    if (pkg) {
      const outcome = await installDependencies({
        dir,
        pkg,
        conditions: WORKERD_CONDITIONS,
        cacheDir: input.config.depsCacheDir,
        cacheMaxBytes: input.config.depsCacheMaxBytes,
        npmCacheDir: input.config.npmCacheDir,
        registry: input.config.npmRegistry,
        npm: input.npm,
        scratch: join(scratch, 'npm'),
        timeoutMs: remaining(input.deadline),
        diskMaxBytes: input.diskMaxBytes,
      });
      dependencies = outcome.installed;
    }
    const bundle = await bundleProject(dir, found.entry, pkg);
    return { bundle: checkSize(bundle, input.bundleMaxBytes), framework, commitSha, dependencies };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function checkSize(bundle: WorkerBundle, maxBytes: number): WorkerBundle {
  const size = Object.values(bundle.modules).reduce((n, m) => n + Buffer.byteLength(m), 0);
  if (size > maxBytes)
    throw new BuildError(`the bundle is ${sizeText(size)}, over the ${sizeText(maxBytes)} bundle limit`);
  return bundle;
}

function remaining(deadline: number): number {
  const ms = deadline - Date.now();
  if (ms <= 0) throw new BuildError('the build ran out of time (build time limit)');
  return ms;
}
