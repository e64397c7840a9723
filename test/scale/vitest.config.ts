import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * `npm run test:scale` (docs/scaling.md): the Redis-using specs that can take a cluster, and the
 * focused ones in test/scale, against a real Redis Cluster (3 masters + 3 replicas) and with the
 * runtime role going through PgBouncer in transaction mode; both started by the global setup on
 * free loopback ports. Not part of `npm test`.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: { tsconfigPaths: true },
  test: {
    globals: true,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    include: [
      // Not *.spec.ts: the main suite (test/vitest.config.ts) must not pick these up.
      'test/scale/**/*.scale.ts',
      // Existing specs that run unchanged on a cluster (their clients come from testRedis()).
      'test/integration/rate-limiter.spec.ts',
      'test/integration/abuse-detector.spec.ts',
      'test/integration/login-throttle.spec.ts',
      'test/e2e/auth-revocation.spec.ts',
      'test/e2e/internal-surface.spec.ts',
      'test/e2e/worker-jobs.spec.ts',
      'test/e2e/internal-queues.spec.ts',
      // Tenant reads and writes of the runtime role, which goes through PgBouncer here.
      'test/integration/export-streams.spec.ts',
      'test/integration/tenant-isolation.spec.ts',
      'test/integration/concurrency-conflict.spec.ts',
      'test/e2e/invoices.spec.ts',
      'test/e2e/exports.spec.ts',
    ],
    // Its own script (npm run test:topology, test/scale/topology.config.ts): it runs alone.
    exclude: ['**/node_modules/**', 'dist/**', 'test/scale/topology.scale.ts'],
    globalSetup: ['test/scale/support/global-setup.ts'],
    setupFiles: ['test/support/setup-env.ts', 'test/scale/support/setup-scale.ts'],
  },
});
