import { describe, expect, it } from 'vitest';
import { exampleSource } from '../../test/helpers/fixtures.js';
import { BuildError, bundleFiles } from './bundle.js';

const src = (files: Record<string, string>, entry = 'index.js') => ({ type: 'files' as const, entry, files });

describe('bundleFiles', () => {
  it('bundles an example with a relative import into one ES module', async () => {
    const bundle = await bundleFiles(exampleSource('stream'));
    expect(bundle.mainModule).toBe('worker.js');
    expect(Object.keys(bundle.modules)).toEqual(['worker.js']);
    expect(bundle.modules['worker.js']).toContain('function words(');
    expect(bundle.modules['worker.js']).toMatch(/export\s*\{/);
    expect(bundle.durableObjectClasses).toEqual([]);
  });

  it('finds exported Durable Object classes and keeps cloudflare: and node: imports external', async () => {
    const bundle = await bundleFiles(exampleSource('counter'));
    expect(bundle.durableObjectClasses).toEqual(['Counter']);
    expect(bundle.modules['worker.js']).toContain('from "cloudflare:workers"');
  });

  it('compiles TypeScript sources', async () => {
    const bundle = await bundleFiles(
      src(
        { 'index.ts': 'const n: number = 1; export default { fetch() { return new Response(String(n)) } }' },
        'index.ts',
      ),
    );
    expect(bundle.modules['worker.js']).not.toContain(': number');
  });

  it('reports a syntax error with file, line and column', async () => {
    const err = await bundleFiles(src({ 'index.js': 'export default {\n  fetch( {\n}' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect((err as Error).message).toMatch(/^index\.js:\d+:\d+: /);
  });

  it('refuses imports that are not among the files', async () => {
    await expect(
      bundleFiles(src({ 'index.js': 'import x from "./missing.js"; export default { fetch() { return x } }' })),
    ).rejects.toThrow(/cannot find "\.\/missing\.js"/);
    await expect(
      bundleFiles(src({ 'index.js': 'import x from "left-pad"; export default { fetch() { return x } }' })),
    ).rejects.toThrow(/must contain every module/);
  });

  it('refuses a module without a default export', async () => {
    await expect(bundleFiles(src({ 'index.js': 'export const x = 1;' }))).rejects.toThrow(/no default export/);
  });
});
