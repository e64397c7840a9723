import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  resolve: { tsconfigPaths: true },
  test: {
    globals: true,
    include: ['apps/**/*.spec.ts', 'libs/**/*.spec.ts', 'test/**/*.spec.ts'],
    // Fault tests start their own PostgreSQL, Redis and processes: `npm run test:faults`.
    exclude: ['**/node_modules/**', 'dist/**', 'test/faults/**'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup-env.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Every file creates its own tenants, so files run in parallel and in any order.
    sequence: { shuffle: { files: true, tests: false } },
  },
});
