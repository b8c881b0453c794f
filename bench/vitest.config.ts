import { defineConfig } from 'vitest/config';

// Benchmarks that need Vite (convex-test's import.meta.glob); not part of `npm test`.
export default defineConfig({
  test: { include: ['bench/**/*.run.ts'], pool: 'forks', maxWorkers: 1, silent: false },
});
