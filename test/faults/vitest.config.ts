import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The fault tests (`npm run test:faults`, docs/faults.md). Each file starts its own PostgreSQL,
 * Redis, API and worker on free ports and kills and restarts them, so the files run one at a time
 * (the machine has few cores, and every file's processes are heavy) and are bounded by generous
 * timeouts rather than fast ones.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: { tsconfigPaths: true },
  test: {
    globals: true,
    // Not *.spec.ts: the main suite (test/vitest.config.ts) must not pick these up.
    include: ['test/faults/**/*.fault.ts'],
    exclude: ['**/node_modules/**', 'dist/**'],
    setupFiles: ['test/faults/support/setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 180_000,
    sequence: { shuffle: false },
  },
});
