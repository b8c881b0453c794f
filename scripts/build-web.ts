// Builds the dashboard (web/) into dist/web with Vite, once: skipped when the hash of its
// sources, its config and the lockfile matches the last build's. `npm start` and the browser
// tests run it; `npm run dev:web` serves the sources with hot reload instead.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'dist/web');
const stampFile = join(out, '.source-hash');

function files(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? files(p) : [p];
    });
}

/** The dashboard's inputs (types it takes from api/ and lib/ leave nothing in the bundle). */
export function webSourceHash(): string {
  const inputs = [
    ...files(join(root, 'web/src')).filter((f) => !/\.test\.tsx?$/.test(f)),
    join(root, 'web/index.html'),
    join(root, 'web/vite.config.ts'),
    join(root, 'package-lock.json'),
  ];
  const h = createHash('sha256');
  for (const f of inputs) h.update(relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

export function buildWeb(): { built: boolean; ms: number } {
  const started = Date.now();
  const hash = webSourceHash();
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === hash && existsSync(join(out, 'index.html')))
    return { built: false, ms: Date.now() - started };
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      join(root, 'web/vite.config.ts'),
      '--logLevel',
      'warn',
    ],
    // production React and minified output, also when called from a test run (NODE_ENV=test)
    { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } },
  );
  writeFileSync(stampFile, hash);
  return { built: true, ms: Date.now() - started };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { built, ms } = buildWeb();
  console.error(built ? `dashboard built into dist/web in ${ms} ms` : 'dashboard is up to date (dist/web)');
}
