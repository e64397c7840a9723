import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * `npm run test:topology` (docs/scaling.md): test/scale/topology.scale.ts alone. It starts its own
 * Redis Cluster, PgBouncer, HAProxy, two compiled API processes and two compiled workers, fails a
 * Redis master over and restarts PgBouncer, and measures capacity: it runs alone, not beside the
 * other scale files (whose shared cluster and PgBouncer it must not disturb, and whose load would
 * distort its figures). The global setup is `npm test`'s (the run's migrated test database and keys).
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: { tsconfigPaths: true },
  test: {
    globals: true,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    include: ['test/scale/topology.scale.ts'],
    exclude: ['**/node_modules/**', 'dist/**'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup-env.ts'],
  },
});
