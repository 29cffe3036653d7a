import { configDefaults, defineConfig } from 'vitest/config';

// Three projects: `unit` (no servers; `npm run test:unit`), `simulator` (the Klarna simulator's
// contract tests, in-process) and `integration`, which gets one
// Temporal dev server and one FerretDB for the whole run from test/global-setup.ts (browser tests,
// test/browser/, are in it too: they need the same servers, and drive Debian's Chromium). A fourth,
// `chaos`, exists only under `npm run test:chaos` (test/chaos/chaos.test.ts).
export default defineConfig({
  test: {
    // Native addons (the Temporal core bridge) crash under worker threads.
    pool: 'forks',
    poolOptions: {
      forks: {
        // Workflow tests each spawn their own time-skipping test server (time skipping is global
        // to one server, so files must never share one) and the SDK gives a spawned server ~5 s
        // to accept connections; the e2e files bundle workflows with webpack. Two files at a time
        // on a 2-core machine keeps both safe; lower with VITEST_MAX_FORKS=1 to run serially.
        maxForks: Number(process.env.VITEST_MAX_FORKS ?? 2),
        minForks: 1,
      },
    },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        // The simulator's contract tests: in-process HTTP only, no Temporal or database.
        extends: true,
        test: { name: 'simulator', include: ['test/klarna-simulator/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/unit/**', 'test/klarna-simulator/**', 'test/chaos/**'],
          globalSetup: ['test/global-setup.ts'],
          setupFiles: ['test/support/quiet-temporal-runtime.ts'],
        },
      },
      // `chaos` only when `npm run test:chaos` asks for it (CHAOS_SUITE=true), so `npm test` never
      // runs it: its own Temporal, FerretDB, worker and API processes, stopped and killed for real,
      // one case after the other (2.5-4 minutes on 2 cores).
      ...(process.env.CHAOS_SUITE === 'true'
        ? [
            {
              extends: true as const,
              test: {
                name: 'chaos',
                include: ['test/chaos/**/*.test.ts'],
                testTimeout: 600_000,
                hookTimeout: 300_000,
              },
            },
          ]
        : []),
    ],
  },
});
