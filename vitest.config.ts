import { defineConfig } from 'vitest/config';

// Six layers, all in `npm test`:
//  unit         pure code and the store on in-memory PGlite, and the dashboard's views
//               (web/**/*.unit.test.tsx, in happy-dom); no processes started
//  integration  workflows, api routes and the local runtime against a real Temporal dev
//               server (one per run, from test/global-temporal.ts) and real workerd
//  e2e          the real platform processes, started the way `npm start` starts them
//  security     a hostile tenant against the real platform processes
//  faults       the platform's processes killed and restarted under work (workers, Temporal,
//               PostgreSQL) and cloud providers failing; each suite prints its figures
//  browser      the dashboard in Debian's Chromium (playwright-core) against the real platform
export default defineConfig({
  // the dashboard's TSX, as web/vite.config.ts compiles it
  oxc: { jsx: { runtime: 'automatic' } },
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: [
            '{lib,api,gateway,activities,workflows,workers,runtime-local,convex}/**/*.unit.test.ts',
            'web/**/*.unit.test.{ts,tsx}',
            // docker-compose.yml and the Dockerfile, checked without a Docker engine
            'test/deploy/**/*.unit.test.ts',
          ],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          sequence: { groupOrder: 0 },
          include: ['{lib,api,gateway,activities,workflows,runtime-local}/**/*.test.ts'],
          exclude: ['**/*.unit.test.ts', 'node_modules/**'],
          globalSetup: ['test/global-temporal.ts'],
        },
      },
      // After the others (groupOrder), alone: it starts whole platforms on fixed ports.
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/global-bundle.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 1 },
        },
      },
      // Last and alone: it loads the machine on purpose, and measures another tenant meanwhile.
      {
        extends: true,
        test: {
          name: 'security',
          include: ['test/security/**/*.test.ts'],
          // one file at a time: each starts a platform and loads the machine (the hostile tenant
          // measures its neighbour's latency meanwhile, the malformed suite sends 10,000 requests)
          fileParallelism: false,
          globalSetup: ['test/global-bundle.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 2 },
        },
      },
      // After security, alone: each file starts its own platform processes, Temporal dev server
      // and (postgres-restart) PostgreSQL server, kills and restarts them, and waits out the
      // timeouts that bring work back (a killed worker's activity is retried after its timeout).
      {
        extends: true,
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/global-bundle.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000,
          sequence: { groupOrder: 3 },
        },
      },
      // After the platform layers, alone: a whole platform and a browser.
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/global-bundle.ts', 'test/global-web.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 4 },
        },
      },
    ],
  },
});
